import type { Balancer, BalancerUpstream, PickContext } from './balancer.js';

/** Each available upstream in turn, skipping unavailable ones. */
export class RoundRobinBalancer implements Balancer {
  #cursor = 0;

  pick(_ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const i = this.#next(pool);
    if (i < 0) return undefined;
    this.#cursor = (i + 1) % pool.length;
    return pool[i];
  }

  peek(_ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const i = this.#next(pool);
    return i < 0 ? undefined : pool[i];
  }

  /** Index of the first available upstream from the cursor on, or -1. */
  #next(pool: readonly BalancerUpstream[]): number {
    const n = pool.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#cursor + i) % n;
      if (pool[index]!.available) return index;
    }
    return -1;
  }
}
