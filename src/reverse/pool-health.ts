/**
 * Applies health to upstreams: runs each pool's active checker through a fall/rise HealthState per
 * upstream, and feeds proxied results to the pool's PassiveTracker. The checkers and the tracker only
 * report; this is the one place that changes `healthy`, `ejectedUntil` and `lastCheck`, logs
 * transitions and counts them. Gauges are read from upstream state at scrape time.
 */
import type { Logger } from 'pino';
import { ProxyError } from '../core/errors.js';
import type { Metrics } from '../observability/metrics.js';
import { createHealthChecker } from './health/create-health-checker.js';
import type { HealthChecker, HealthReport } from './health/health-checker.js';
import { HealthState } from './health/health-state.js';
import { PassiveTracker, type PassiveFailureKind } from './health/passive.js';
import type { UpstreamPool } from './upstream-pool.js';
import type { Upstream } from './upstream.js';
import type { PoolConfig } from '../config/types.js';

interface Entry {
  pool: UpstreamPool;
  healthKey: string;
  checker?: HealthChecker;
  states: Map<string, HealthState>;
  passiveKey: string;
  passive?: PassiveTracker;
  /** Upstream ids at the last follow, to forget removed ones. */
  members: Set<string>;
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** What a failed attempt counts as for passive checks; undefined for a success. */
function failureKind(error: unknown, status?: number): PassiveFailureKind | undefined {
  if (error === undefined) return status !== undefined && status >= 500 ? 'status_5xx' : undefined;
  if (error instanceof ProxyError) {
    if (error.kind === 'connection_timeout' || error.kind === 'response_timeout') return 'timeout';
    return error.kind === 'connection_refused' ? 'connect' : 'reset';
  }
  const code = (error as { code?: string } | null)?.code ?? '';
  return TIMEOUT_CODES.has(code) ? 'timeout' : CONNECT_CODES.has(code) ? 'connect' : 'reset';
}

export class PoolHealth {
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #entries = new Map<string, Entry>();

  constructor(log: Logger, metrics: Metrics) {
    this.#log = log.child({ unit: 'health' });
    this.#metrics = metrics;
    // gauges read upstream state when scraped: no per-request gauge updates. prom-client calls a
    // gauge's `collect` before every scrape; its typings only admit it as a constructor option.
    type Collectable = { collect?: () => void };
    (metrics.upstreamHealthy as unknown as Collectable).collect = () => this.#collect(metrics.upstreamHealthy, (u) => (u.available ? 1 : 0));
    (metrics.upstreamActive as unknown as Collectable).collect = () => this.#collect(metrics.upstreamActive, (u) => u.inflight);
  }

  /** Passive-check hook for the proxy stage and TCP listeners: told every attempt's outcome. */
  readonly onResult = (pool: UpstreamPool, upstream: Upstream, error: unknown, status?: number): void => {
    const entry = this.#entries.get(pool.name);
    if (!entry?.passive) return;
    const kind = failureKind(error, status);
    if (!kind) return;
    const v = entry.passive.failure(upstream.id, pool.upstreams.length, kind);
    if (v.action === 'ejected') {
      upstream.ejectedUntil = v.until;
      upstream.ejections++;
      this.#metrics.healthTransitions.labels(pool.name, upstream.id, 'ejected').inc();
      this.#log.warn({ pool: pool.name, upstream: upstream.id, reason: kind, eject_ms: v.durationMs, ejections: v.ejections }, 'upstream ejected');
      // ejection ends by time alone; say so when it does (unless a later ejection extended it)
      setTimeout(() => {
        if (upstream.ejectedUntil === v.until) this.#log.info({ pool: pool.name, upstream: upstream.id, ejections: upstream.ejections }, 'upstream ejection ended');
      }, v.durationMs).unref();
    } else if (v.action === 'capped') {
      this.#log.debug({ pool: pool.name, upstream: upstream.id, reason: kind }, 'upstream over the failure limit, but the pool is at its ejection cap');
    }
  };

  /** Starts, restarts or stops checkers so they match the pools (start, reload). */
  reconcile(pools: ReadonlyMap<string, UpstreamPool>): void {
    for (const [name, entry] of this.#entries) {
      if (!pools.has(name)) { void entry.checker?.stop(); this.#entries.delete(name); }
    }
    for (const [name, pool] of pools) {
      const cfg = pool.config;
      const healthKey = JSON.stringify(cfg.health ?? null);
      const passiveKey = JSON.stringify(cfg.passive ?? null);
      let entry = this.#entries.get(name);
      if (!entry) {
        entry = { pool, healthKey: 'none', states: new Map(), passiveKey: 'none', members: new Set() };
        this.#entries.set(name, entry);
      }
      entry.pool = pool;
      if (entry.healthKey !== healthKey) this.#replaceChecker(entry, cfg);
      if (entry.passiveKey !== passiveKey) {
        entry.passiveKey = passiveKey;
        entry.passive = cfg.passive && new PassiveTracker({
          max_failures: cfg.passive.max_failures, window: cfg.passive.window, eject: cfg.passive.eject, count_5xx: cfg.passive.on_5xx,
        });
      }
      const e = entry;
      pool.onMembershipChange = () => this.#follow(e);
      this.#follow(entry);
    }
  }

  async stop(): Promise<void> {
    const checkers = [...this.#entries.values()].map((e) => e.checker?.stop());
    this.#entries.clear();
    await Promise.all(checkers);
  }

  #replaceChecker(entry: Entry, cfg: PoolConfig): void {
    void entry.checker?.stop();
    entry.checker = undefined;
    entry.states.clear();
    entry.healthKey = JSON.stringify(cfg.health ?? null);
    const h = cfg.health;
    if (!h) {
      // checks turned off: nothing will ever mark these up again
      for (const u of entry.pool.upstreams) { u.healthy = true; u.lastCheck = undefined; }
      return;
    }
    entry.checker = createHealthChecker({
      path: h.path, interval: h.interval, timeout: h.timeout, expect_status: h.expect_status,
      expect_body: h.expect_body || undefined, host: h.host || undefined, tls: entry.pool.tls,
    });
  }

  /** Points the checker at the pool's current members and forgets removed ones. */
  #follow(entry: Entry): void {
    const ids = new Set(entry.pool.upstreams.map((u) => u.id));
    for (const id of entry.members) {
      if (!ids.has(id)) { entry.states.delete(id); entry.passive?.remove(id); }
    }
    entry.members = ids;
    entry.checker?.start(entry.pool.upstreams, (r) => this.#report(entry, r));
  }

  #report(entry: Entry, r: HealthReport): void {
    const u = entry.pool.find(r.upstreamId);
    const h = entry.pool.config.health;
    if (!u || !h) return;
    let state = entry.states.get(u.id);
    if (!state) entry.states.set(u.id, (state = new HealthState({ fall: h.fall, rise: h.rise, initial: u.healthy ? 'healthy' : 'unhealthy' })));
    u.lastCheck = { ok: r.ok, at: Date.now(), ms: r.latencyMs ?? 0, reason: r.reason };
    const t = state.record(r.ok, r.reason);
    if (!t) return;
    u.healthy = state.healthy;
    this.#metrics.healthTransitions.labels(entry.pool.name, u.id, t.to).inc();
    const fields = { pool: entry.pool.name, upstream: u.id, from: t.from, to: t.to, reason: t.reason };
    if (t.to === 'healthy') {
      u.rampUp();
      // the active check saw it recover: end a passive ejection early
      entry.passive?.reinstate(u.id);
      u.ejectedUntil = 0;
      this.#log.info(fields, 'upstream healthy');
    } else {
      this.#log.warn(fields, 'upstream unhealthy');
    }
  }

  #collect(gauge: Metrics['upstreamHealthy'], value: (u: Upstream) => number): void {
    gauge.reset();
    for (const { pool } of this.#entries.values()) {
      for (const u of pool.upstreams) gauge.labels(pool.name, u.id).set(value(u));
    }
  }
}
