/**
 * Host-side rate limit for plugin log lines: at most `perSecond` lines per one-second window
 * reach the logger; the rest are counted and reported as one warning when the next window opens.
 * (The isolate also caps lines per call, so a tight log loop rarely even crosses the boundary.)
 */
import type { PluginLogger } from './plugin-types.js';

export class LogLimiter {
  #windowStart = 0;
  #inWindow = 0;
  #pendingDropped = 0;
  #totalDropped = 0;

  constructor(
    private readonly plugin: string,
    private readonly logger: PluginLogger,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  get dropped(): number { return this.#totalDropped; }

  emit(level: 'info' | 'warn' | 'error', text: string): void {
    this.#roll();
    if (this.#inWindow >= this.perSecond) { this.drop(1); return; }
    this.#inWindow++;
    this.logger[level]({ plugin: this.plugin, line: text }, 'plugin log');
  }

  /** Lines dropped elsewhere (inside the isolate) still count and get reported. */
  drop(n: number): void {
    if (n <= 0) return;
    this.#pendingDropped += n;
    this.#totalDropped += n;
  }

  #roll(): void {
    const t = this.now();
    if (t - this.#windowStart < 1000) return;
    this.#windowStart = t;
    this.#inWindow = 0;
    if (this.#pendingDropped > 0) {
      this.logger.warn({ plugin: this.plugin, dropped: this.#pendingDropped }, 'plugin log lines dropped (rate limit)');
      this.#pendingDropped = 0;
    }
  }
}
