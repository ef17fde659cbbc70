/** One upstream server: its keep-alive connection pool and the state balancers and /status read. */
import { Pool } from 'undici';
import type { BalancerUpstream } from './balancers/balancer.js';
import type { PoolConfig } from '../config/types.js';

export class Upstream implements BalancerUpstream {
  /** The upstream's origin (scheme://host:port): stable id within the pool. */
  readonly id: string;
  readonly url: URL;
  readonly dispatcher: Pool;
  weight: number;
  /** Set by active health checks. */
  healthy = true;
  /** Passive ejection: unavailable until this time (ms since epoch); 0 = not ejected. */
  ejectedUntil = 0;
  ejections = 0;
  /** Being removed: no new requests, in-flight ones finish. */
  draining = false;
  inflight = 0;
  requests = 0;
  failures = 0;
  /** Exponentially weighted moving average of response-head time, ms. */
  responseTimeMs = 0;
  lastCheck?: { ok: boolean; at: number; ms: number; reason?: string };

  constructor(url: string, weight: number, cfg: PoolConfig) {
    this.url = new URL(url);
    this.id = this.url.origin;
    this.weight = weight;
    this.dispatcher = new Pool(this.id, {
      connections: cfg.keepalive,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: cfg.connect_timeout, noDelay: true },
      headersTimeout: cfg.response_timeout,
      bodyTimeout: cfg.response_timeout,
    });
  }

  get available(): boolean {
    return this.healthy && !this.draining && (this.ejectedUntil === 0 || this.ejectedUntil <= Date.now());
  }

  /** Records a response time in the moving average (alpha 0.2: recent answers count most). */
  recordResponseTime(ms: number): void {
    this.responseTimeMs = this.responseTimeMs === 0 ? ms : this.responseTimeMs * 0.8 + ms * 0.2;
  }

  /** Resolves once no request is in flight (for drains). */
  async idle(pollMs = 20): Promise<void> {
    while (this.inflight > 0) await new Promise((r) => setTimeout(r, pollMs));
  }

  close(): Promise<void> {
    return this.dispatcher.close().catch(() => undefined);
  }

  destroy(): Promise<void> {
    return this.dispatcher.destroy().catch(() => undefined);
  }
}
