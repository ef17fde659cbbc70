import type { Balancer, BalancerUpstream, PickContext } from './balancer.js';

/** Each available upstream in turn, skipping unavailable ones. */
export class RoundRobinBalancer implements Balancer {
  #cursor = 0;

  pick(_ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const n = pool.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#cursor + i) % n;
      const u = pool[index]!;
      if (u.available) {
        this.#cursor = (index + 1) % n;
        return u;
      }
    }
    return undefined;
  }
}
