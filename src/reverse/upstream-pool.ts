/** A named pool of upstreams with its balancer. The upstream list is replaced, never mutated, so picks see a consistent list. */
import { peekOf, type PickContext } from './balancers/balancer.js';
import { createPoolBalancer, type PoolBalancer } from './pool-balancer.js';
import { connectionSettings, Upstream } from './upstream.js';
import { originOf } from '../config/origin.js';
import type { PoolConfig } from '../config/types.js';
import type { StickyStore } from './sticky/ip-sticky.js';
import type { ConnectionOptions } from 'node:tls';
import { upstreamTlsOptions } from './upstream-tls.js';

export class UpstreamPool {
  #upstreams: readonly Upstream[];
  readonly #balancer: PoolBalancer;
  /** Told after every run-time membership change (health checks follow the pool). */
  onMembershipChange?: (pool: UpstreamPool) => void;

  /** TLS options of connections to https:// upstreams (verification, SNI, client certificate). */
  readonly tls: ConnectionOptions;

  /**
   * `stickyStores`: the fleet's ip-sticky table for a pool name (shared.redis); undefined: per process.
   * Throws `TlsConfigError` when a file of `tls` cannot be used.
   */
  constructor(readonly name: string, readonly config: PoolConfig, reuse?: ReadonlyMap<string, Upstream>, nodeId = '',
    stickyStores?: (pool: string) => StickyStore) {
    this.tls = upstreamTlsOptions(config.tls, `pools.${name}.tls`);
    const settings = connectionSettings(config);
    this.#upstreams = config.upstreams.map((u) => {
      const kept = reuse?.get(originOf(u.url));
      // an upstream keeps its connections (and counters) unless the settings they were made with changed
      if (kept && kept.settingsKey === settings) { kept.configuredWeight = u.weight; kept.slowStartMs = config.slow_start; return kept; }
      return new Upstream(u.url, u.weight, config, this.tls, settings);
    });
    this.#balancer = createPoolBalancer(config, name, nodeId, stickyStores?.(name));
  }

  /** Something to await before the first pick of a request (the fleet's sticky pin of `clientIp`), or undefined. */
  prepare(clientIp: string): Promise<void> | undefined {
    return this.#balancer.ipSticky?.prepare(clientIp);
  }

  get upstreams(): readonly Upstream[] { return this.#upstreams; }

  /** An available upstream, skipping those in `exclude` (already tried by this request). */
  pick(ctx: PickContext, exclude?: ReadonlySet<Upstream>): Upstream | undefined {
    const list = exclude && exclude.size ? this.#upstreams.filter((u) => !exclude.has(u)) : this.#upstreams;
    return this.#balancer.balancer.pick(ctx, list) as Upstream | undefined;
  }

  /** What pick() would answer now, moving no cursor or sticky table (the simulator). */
  peek(ctx: PickContext): Upstream | undefined {
    return peekOf(this.#balancer.balancer, ctx, this.#upstreams) as Upstream | undefined;
  }

  /**
   * The Set-Cookie value to send with a response from `upstream`, when the pool is cookie-sticky and
   * the request does not already carry that upstream's cookie.
   */
  stickyCookie(ctx: PickContext, upstream: Upstream): string | undefined {
    return this.#balancer.sticky?.setCookieFor(ctx, upstream);
  }

  find(origin: string): Upstream | undefined {
    return this.#upstreams.find((u) => u.id === origin);
  }

  /** Adds an upstream at run time; it ramps up over `slow_start` when that is set. */
  add(url: string, weight: number): Upstream {
    const origin = originOf(url);
    if (this.find(origin)) throw new Error(`upstream ${origin} is already in pool ${this.name}`);
    const u = new Upstream(url, weight, this.config, this.tls);
    u.rampUp();
    this.#upstreams = [...this.#upstreams, u];
    this.onMembershipChange?.(this);
    return u;
  }

  /** Stops sending new requests to an upstream, waits for its in-flight ones, then removes it. */
  async drain(origin: string): Promise<boolean> {
    const u = this.find(origin);
    if (!u) return false;
    u.draining = true;
    await u.idle();
    this.#upstreams = this.#upstreams.filter((x) => x !== u);
    this.onMembershipChange?.(this);
    await u.close();
    return true;
  }

  async close(): Promise<void> {
    await Promise.all(this.#upstreams.map((u) => u.close()));
  }
}
