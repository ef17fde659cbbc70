import type { HealthChecker, HealthReport, HealthTarget } from './health-checker.js';

/** Result of one probe. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly reason: string;
}

/** One check of one upstream. Must settle by itself within about `timeoutMs`, and promptly once `signal` aborts. */
export type Probe = (target: URL, signal: AbortSignal, timeoutMs: number) => Promise<ProbeResult>;

export interface PeriodicOptions {
  /** Time between the end of one check and the start of the next, ms. */
  readonly intervalMs: number;
  /** Per-check time limit, ms. */
  readonly timeoutMs: number;
  /** ± fraction of the interval, so checks of many upstreams (and proxies) do not align. Default 0.1. */
  readonly jitter?: number;
  readonly random?: () => number;
}

interface Slot {
  url: URL;
  timer: NodeJS.Timeout | undefined;
  abort: AbortController | undefined;
  running: Promise<void> | undefined;
}

/**
 * Runs a probe per upstream forever: first within 10% of an interval, then `interval ± jitter`
 * after the previous check finished (never two at once on one upstream). Timers are unref'd.
 */
export class PeriodicChecker implements HealthChecker {
  readonly #probe: Probe;
  readonly #interval: number;
  readonly #timeout: number;
  readonly #jitter: number;
  readonly #random: () => number;
  readonly #slots = new Map<string, Slot>();
  #report: (r: HealthReport) => void = () => {};
  #stopped = false;

  constructor(probe: Probe, opts: PeriodicOptions) {
    this.#probe = probe;
    this.#interval = Math.max(1, opts.intervalMs);
    this.#timeout = Math.max(1, opts.timeoutMs);
    this.#jitter = Math.min(Math.max(opts.jitter ?? 0.1, 0), 1);
    this.#random = opts.random ?? Math.random;
  }

  start(pool: readonly HealthTarget[], report: (r: HealthReport) => void): void {
    this.#stopped = false;
    this.#report = report;
    const keep = new Set<string>();
    for (const t of pool) {
      keep.add(t.id);
      const url = typeof t.url === 'string' ? new URL(t.url) : t.url;
      const slot = this.#slots.get(t.id);
      if (slot) {
        slot.url = url;
        continue;
      }
      const fresh: Slot = { url, timer: undefined, abort: undefined, running: undefined };
      this.#slots.set(t.id, fresh);
      this.#schedule(t.id, fresh, this.#random() * this.#interval * 0.1);
    }
    for (const [id, slot] of this.#slots) {
      if (!keep.has(id)) {
        this.#cancel(slot);
        this.#slots.delete(id);
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const running: Promise<void>[] = [];
    for (const slot of this.#slots.values()) {
      this.#cancel(slot);
      if (slot.running) running.push(slot.running);
    }
    this.#slots.clear();
    await Promise.allSettled(running);
  }

  #cancel(slot: Slot): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.abort?.abort();
  }

  #schedule(id: string, slot: Slot, delay: number): void {
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      slot.running = this.#run(id, slot);
    }, delay);
    slot.timer.unref();
  }

  async #run(id: string, slot: Slot): Promise<void> {
    const abort = new AbortController();
    slot.abort = abort;
    const started = performance.now();
    let result: ProbeResult;
    try {
      result = await this.#probe(slot.url, abort.signal, this.#timeout);
    } catch (err) {
      result = { ok: false, reason: (err as Error)?.message ?? String(err) };
    }
    slot.abort = undefined;
    slot.running = undefined;
    // stopped, or removed from the pool while the probe ran: report nothing
    if (abort.signal.aborted || this.#stopped || this.#slots.get(id) !== slot) return;
    this.#report({ upstreamId: id, ok: result.ok, reason: result.reason, latencyMs: Math.round(performance.now() - started) });
    if (this.#stopped || this.#slots.get(id) !== slot) return;
    const spread = this.#interval * this.#jitter * (2 * this.#random() - 1);
    this.#schedule(id, slot, this.#interval + spread);
  }
}
