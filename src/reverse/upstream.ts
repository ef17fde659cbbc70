/** One upstream server: its keep-alive connection pool and the state balancers and /status read. */
import { Pool } from 'undici';
import type { BalancerUpstream } from './balancers/balancer.js';
import { inSlowStart, slowStartWeight } from './balancers/slow-start.js';
import { originOf } from '../config/origin.js';
import type { ConnectionOptions } from 'node:tls';
import type { PoolConfig } from '../config/types.js';
import { ConnectionSlots } from './connection-slots.js';

export interface LastCheck { ok: boolean; at: number; ms: number; reason?: string }

export class Upstream implements BalancerUpstream {
  /** The upstream's origin (scheme://host:port): stable id within the pool. */
  readonly id: string;
  readonly url: URL;
  /** Weight from config or the admin API. */
  configuredWeight: number;
  /** `slow_start` of the pool, ms; 0 = off. */
  slowStartMs: number;
  /** When the upstream last became available (ms epoch) for slow start; 0 = always was. */
  availableSince = 0;
  /** Set by active health checks. */
  healthy = true;
  /** Passive ejection: unavailable until this time (ms since epoch); 0 = not ejected. */
  ejectedUntil = 0;
  ejections = 0;
  /** Being removed: no new requests, in-flight ones finish. */
  draining = false;
  /** Requests (or TCP connections) in flight. */
  inflight = 0;
  requests = 0;
  failures = 0;
  /** Exponentially weighted moving average of response-head time, ms. */
  responseTimeMs = 0;
  lastCheck?: LastCheck;
  /** HTTP connections busy at once (keepalive) and the bounded wait for one. */
  readonly slots: ConnectionSlots;
  #dispatcher?: Pool;
  readonly #cfg: PoolConfig;
  /** TLS options of connections to an https:// upstream. */
  readonly tls: ConnectionOptions;
  /** The pool settings its connections and slots were made with (connectionSettings): a reload that changes them makes a new upstream. */
  readonly settingsKey: string;

  constructor(url: string, weight: number, cfg: PoolConfig, tls: ConnectionOptions = {}, settingsKey = connectionSettings(cfg)) {
    this.url = new URL(url);
    this.id = originOf(this.url);
    this.configuredWeight = weight;
    this.slowStartMs = cfg.slow_start;
    this.#cfg = cfg;
    this.slots = new ConnectionSlots(cfg.keepalive, cfg.max_queue);
    this.tls = this.url.protocol === 'https:' ? tls : {};
    this.settingsKey = settingsKey;
  }

  /** The HTTP connection pool, made on first use: `tcp://` upstreams of TCP listeners never need one. */
  get dispatcher(): Pool {
    return (this.#dispatcher ??= new Pool(this.id, {
      connections: this.#cfg.keepalive,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: this.#cfg.connect_timeout, noDelay: true, ...this.tls } as Pool.Options['connect'],
      headersTimeout: this.#cfg.response_timeout,
      bodyTimeout: this.#cfg.response_timeout,
    }));
  }

  /** The weight balancers see: the configured one, ramped up during slow start. */
  get weight(): number {
    const since = this.availableSince;
    if (since === 0) return this.configuredWeight;
    const now = Date.now();
    if (!inSlowStart(since, now, this.slowStartMs)) { this.availableSince = 0; return this.configuredWeight; }
    return slowStartWeight(this.configuredWeight, since, now, this.slowStartMs);
  }

  get available(): boolean {
    return this.healthy && !this.draining && (this.ejectedUntil === 0 || this.ejectedUntil <= Date.now());
  }

  /** Starts the slow-start ramp (upstream just became healthy, or was added at run time). */
  rampUp(now = Date.now()): void {
    if (this.slowStartMs > 0) this.availableSince = now;
  }

  /** Records a response time in the moving average (alpha 0.2: recent answers count most). */
  recordResponseTime(ms: number): void {
    this.responseTimeMs = this.responseTimeMs === 0 ? ms : this.responseTimeMs * 0.8 + ms * 0.2;
  }

  /** Resolves once no request is in flight (for drains). */
  async idle(pollMs = 20): Promise<void> {
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, pollMs));
  }

  /** The per-upstream part of GET /status. */
  describe(): Record<string, unknown> {
    const now = Date.now();
    const ejected = this.ejectedUntil > now;
    return {
      url: this.id,
      state: this.draining ? 'draining' : this.available ? 'up' : 'down',
      health: this.healthy ? 'healthy' : 'unhealthy',
      ejected, ejected_until: ejected ? new Date(this.ejectedUntil).toISOString() : undefined,
      configured_weight: this.configuredWeight,
      weight: Math.round(this.weight * 100) / 100,
      active: this.inflight, queued: this.slots.queued, requests: this.requests, failures: this.failures, ejections: this.ejections,
      response_time_ms: Math.round(this.responseTimeMs * 100) / 100,
      last_check: this.lastCheck && {
        ok: this.lastCheck.ok, at: new Date(this.lastCheck.at).toISOString(), ms: this.lastCheck.ms, reason: this.lastCheck.reason,
      },
    };
  }

  close(): Promise<void> {
    return this.#dispatcher?.close().catch(() => undefined) ?? Promise.resolve();
  }

  destroy(): Promise<void> {
    return this.#dispatcher?.destroy().catch(() => undefined) ?? Promise.resolve();
  }
}

/** What an upstream's connections and slots are made of: the pool settings a kept upstream cannot change in place. */
export function connectionSettings(cfg: PoolConfig): string {
  return JSON.stringify([cfg.tls ?? null, cfg.keepalive, cfg.max_queue, cfg.connect_timeout, cfg.response_timeout]);
}
