import type { Balancer, BalancerUpstream, PickContext } from './balancer.js';

/**
 * nginx's smooth weighted round-robin: every pick adds each available upstream's weight to its
 * `current`, takes the largest, and subtracts the total from the winner. Weights 5:1:1 give
 * `a a b a c a a`, never a burst of 5 to the heavy one. Deterministic; upstreams with weight <= 0
 * are skipped.
 */
export class WeightedRoundRobinBalancer implements Balancer {
  readonly #current = new Map<string, number>();
  #seenPool: readonly BalancerUpstream[] | undefined;
  #seenLength = 0;

  pick(_ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    if (pool !== this.#seenPool || pool.length !== this.#seenLength) this.#prune(pool);
    let total = 0;
    let best: BalancerUpstream | undefined;
    let bestCurrent = -Infinity;
    for (const u of pool) {
      if (!u.available || !(u.weight > 0)) continue;
      const current = (this.#current.get(u.id) ?? 0) + u.weight;
      this.#current.set(u.id, current);
      total += u.weight;
      if (current > bestCurrent) {
        best = u;
        bestCurrent = current;
      }
    }
    if (best) this.#current.set(best.id, bestCurrent - total);
    return best;
  }

  peek(_ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    let best: BalancerUpstream | undefined;
    let bestCurrent = -Infinity;
    for (const u of pool) {
      if (!u.available || !(u.weight > 0)) continue;
      const current = (this.#current.get(u.id) ?? 0) + u.weight;
      if (current > bestCurrent) { best = u; bestCurrent = current; }
    }
    return best;
  }

  // forget removed upstreams so a long-lived pool with churn does not grow the map
  #prune(pool: readonly BalancerUpstream[]): void {
    this.#seenPool = pool;
    this.#seenLength = pool.length;
    if (this.#current.size === 0) return;
    const ids = new Set(pool.map((u) => u.id));
    for (const id of this.#current.keys()) if (!ids.has(id)) this.#current.delete(id);
  }
}
