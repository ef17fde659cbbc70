/** A named pool of upstreams with its balancer. The upstream list is replaced, never mutated, so picks see a consistent list. */
import type { Balancer, PickContext } from './balancers/balancer.js';
import { createPoolBalancer } from './pool-balancer.js';
import { Upstream } from './upstream.js';
import type { PoolConfig } from '../config/types.js';

export class UpstreamPool {
  #upstreams: readonly Upstream[];
  readonly #balancer: Balancer;

  constructor(readonly name: string, readonly config: PoolConfig, reuse?: ReadonlyMap<string, Upstream>) {
    this.#upstreams = config.upstreams.map((u) => {
      const origin = new URL(u.url).origin;
      const kept = reuse?.get(origin);
      if (kept) { kept.weight = u.weight; return kept; }
      return new Upstream(u.url, u.weight, config);
    });
    this.#balancer = createPoolBalancer(config);
  }

  get upstreams(): readonly Upstream[] { return this.#upstreams; }

  /** An available upstream, skipping those in `exclude` (already tried by this request). */
  pick(ctx: PickContext, exclude?: ReadonlySet<Upstream>): Upstream | undefined {
    const list = exclude && exclude.size ? this.#upstreams.filter((u) => !exclude.has(u)) : this.#upstreams;
    return this.#balancer.pick(ctx, list) as Upstream | undefined;
  }

  find(origin: string): Upstream | undefined {
    return this.#upstreams.find((u) => u.id === origin);
  }

  /** Adds an upstream at run time. */
  add(url: string, weight: number): Upstream {
    const origin = new URL(url).origin;
    if (this.find(origin)) throw new Error(`upstream ${origin} is already in pool ${this.name}`);
    const u = new Upstream(url, weight, this.config);
    this.#upstreams = [...this.#upstreams, u];
    return u;
  }

  /** Stops sending new requests to an upstream, waits for its in-flight ones, then removes it. */
  async drain(origin: string): Promise<boolean> {
    const u = this.find(origin);
    if (!u) return false;
    u.draining = true;
    await u.idle();
    this.#upstreams = this.#upstreams.filter((x) => x !== u);
    await u.close();
    return true;
  }

  async close(): Promise<void> {
    await Promise.all(this.#upstreams.map((u) => u.close()));
  }
}
