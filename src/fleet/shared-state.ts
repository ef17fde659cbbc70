/**
 * The link of one instance to the Redis its fleet shares (`shared.redis`). Redis is an accelerator, never a
 * dependency: every call has a time budget and answers `undefined` when Redis is down, slow or failing, and
 * the caller decides on local state. An outage is logged once when it starts and once when it ends, and
 * each local decision is counted (`gatehouse_shared_fallbacks_total`). Messages between instances go over
 * one pub/sub channel; when the link comes back, `onResync` handlers catch up on what was missed.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createClient, type RedisClientType } from '@redis/client';
import type { Logger } from 'pino';
import client from 'prom-client';

interface SharedConfig { redis: string; key_prefix: string; timeout: number; tls_ca: string }

/** A message between instances: `kind` says who handles it (purge, pool, …). */
export interface FleetMessage { kind: string; from?: string; [field: string]: unknown }

type Client = RedisClientType;

export class SharedState {
  /** This process's id in fleet messages, so it ignores its own. */
  readonly instanceId = randomUUID();
  readonly prefix: string;
  readonly #budgetMs: number;
  readonly #log: Logger;
  readonly #commands: Client;
  readonly #subscriber: Client;
  readonly #handlers = new Map<string, (m: FleetMessage) => void>();
  readonly #resync: (() => Promise<void>)[] = [];
  readonly #fallbacks: client.Counter<'op'>;
  #up = false;
  /** True once the first outage was logged, until the link is back. */
  #down = false;
  #slowLoggedAt = -Infinity;
  #closing = false;

  constructor(cfg: SharedConfig, log: Logger, registry: client.Registry) {
    this.prefix = cfg.key_prefix;
    this.#budgetMs = cfg.timeout;
    this.#log = log.child({ component: 'shared' });
    const url = new URL(cfg.redis);
    const tls = url.protocol === 'rediss:';
    this.#commands = createClient({
      url: cfg.redis,
      // a command sent while disconnected fails at once instead of waiting for the link in a queue
      disableOfflineQueue: true,
      pingInterval: 5_000,
      socket: {
        connectTimeout: 2_000,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000),
        ...(tls ? { tls: true as const, ...(cfg.tls_ca ? { ca: readFileSync(cfg.tls_ca) } : {}) } : {}),
      },
    }) as Client;
    this.#subscriber = this.#commands.duplicate() as Client;
    // up = both links ready: a resync then never races a message the subscriber could not receive yet
    for (const c of [this.#commands, this.#subscriber]) {
      c.on('ready', () => this.#update());
      c.on('end', () => this.#update());
      c.on('reconnecting', () => this.#update());
      c.on('error', (e: Error) => this.#update(e));
    }
    this.#fallbacks = new client.Counter({
      name: 'gatehouse_shared_fallbacks_total', registers: [registry], labelNames: ['op'] as const,
      help: 'Decisions taken on local state because Redis (shared.redis) was down, slow or failing, by operation.',
    });
    const up = () => this.#up;
    new client.Gauge({
      name: 'gatehouse_shared_up', registers: [registry], help: '1 while the link to the shared Redis is up.',
      // cluster: 1 only when every worker is linked
      aggregator: 'min',
      collect: function collect(this: client.Gauge) { this.set(up() ? 1 : 0); },
    });
  }

  get up(): boolean { return this.#up; }
  get budgetMs(): number { return this.#budgetMs; }

  /** Connects, waiting up to `waitMs` for Redis; the instance starts on local state when it is not there yet. */
  async start(waitMs = 2_000): Promise<void> {
    const ready = Promise.all([
      this.#commands.connect(),
      this.#subscriber.connect().then(() => this.#subscriber.subscribe(`${this.prefix}fleet`, (raw) => this.#onMessage(raw))),
    ]);
    ready.catch(() => { /* reported by the error handler; reconnects go on in the background */ });
    const timeout = new Promise((r) => setTimeout(r, waitMs).unref());
    await Promise.race([ready.then(() => this.#resyncNow(), () => undefined), timeout]);
    if (!this.#up && !this.#down) {
      this.#down = true;
      this.#log.warn({ err: `no answer from Redis within ${waitMs} ms` }, 'shared state unavailable; serving on local state until it returns (logged once)');
    }
  }

  async stop(): Promise<void> {
    this.#closing = true;
    this.#commands.destroy();
    this.#subscriber.destroy();
  }

  /** Handles fleet messages of one kind (sent by other instances only). */
  on(kind: string, handler: (m: FleetMessage) => void): void { this.#handlers.set(kind, handler); }

  /** Runs after every reconnection (and once at start) to catch up on what happened meanwhile. */
  onResync(handler: () => Promise<void>): void { this.#resync.push(handler); }

  /** Tells the other instances; lost when Redis is down (each instance keeps its own state then). */
  publish(message: FleetMessage): void {
    void this.run('publish', (c) => c.publish(`${this.prefix}fleet`, JSON.stringify({ ...message, from: this.instanceId })), 1_000);
  }

  /**
   * Runs a command on the shared Redis within the budget (default `shared.timeout`). Resolves `undefined`
   * (and counts a fallback for `op`) when the link is down, the command fails or the budget runs out;
   * never rejects.
   */
  run<T>(op: string, command: (c: Client) => Promise<T>, budgetMs = this.#budgetMs): Promise<T | undefined> {
    if (!this.#up) { this.#fallbacks.labels(op).inc(); return Promise.resolve(undefined); }
    return new Promise<T | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.#fallbacks.labels(op).inc();
        this.#logSlow(op);
        resolve(undefined);
      }, budgetMs);
      command(this.#commands).then(
        (v) => { clearTimeout(timer); resolve(v); },
        (e: Error) => {
          clearTimeout(timer);
          this.#fallbacks.labels(op).inc();
          if (this.#up) this.#log.warn({ op, err: e.message }, 'shared state command failed; decided on local state');
          resolve(undefined);
        },
      );
    });
  }

  #logSlow(op: string): void {
    const now = Date.now();
    if (now - this.#slowLoggedAt < 60_000) return;
    this.#slowLoggedAt = now;
    this.#log.warn({ op, budget_ms: this.#budgetMs }, 'shared state slower than shared.timeout; decided on local state (logged once a minute at most)');
  }

  #onMessage(raw: string): void {
    let m: FleetMessage;
    try { m = JSON.parse(raw) as FleetMessage; } catch { return; }
    if (m.from === this.instanceId) return;
    this.#handlers.get(m.kind)?.(m);
  }

  #update(e?: Error): void {
    const up = this.#commands.isReady && this.#subscriber.isReady;
    if (up === this.#up) return;
    this.#up = up;
    if (up) {
      if (!this.#down) return;
      this.#down = false;
      this.#log.info('shared state is back; resyncing');
      void this.#resyncNow();
    } else if (!this.#down && !this.#closing) {
      this.#down = true;
      this.#log.warn({ err: e?.message ?? 'connection lost' }, 'shared state unavailable; serving on local state until it returns (logged once)');
    }
  }

  async #resyncNow(): Promise<void> {
    for (const h of this.#resync) {
      try { await h(); } catch (e) { this.#log.warn({ err: (e as Error).message }, 'shared state resync failed'); }
    }
  }
}
