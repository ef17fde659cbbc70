import type { Balancer, BalancerUpstream, PickContext } from './balancer.js';

/** Each available upstream in turn, skipping unavailable ones. */
export class RoundRobinBalancer implements Balancer {
  #cursor = 0;

  pick(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const u = this.peek(ctx, pool);
    if (u) this.#cursor = (pool.indexOf(u) + 1) % pool.length;
    return u;
  }

  peek(_ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const n = pool.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#cursor + i) % n;
      const u = pool[index]!;
      if (u.available) return u;
    }
    return undefined;
  }
}
