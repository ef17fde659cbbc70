import type { Balancer, BalancerUpstream, PickContext } from './balancer.js';

/**
 * Power of two choices (Traefik `p2c`, Envoy `LEAST_REQUEST`): draw two distinct available
 * upstreams with probability proportional to weight and take the one with fewer in-flight
 * requests per unit of weight (the first drawn on a tie). Avoids herding onto the single
 * least-loaded upstream that a stale view of inflight counts causes with plain least_conn.
 */
export class RandomTwoBalancer implements Balancer {
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  pick(_ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    let total = 0;
    let count = 0;
    let only: BalancerUpstream | undefined;
    for (const u of pool) {
      if (!u.available || !(u.weight > 0)) continue;
      total += u.weight;
      count++;
      only = u;
    }
    if (count <= 1) return only;
    const a = this.#draw(pool, total, undefined)!;
    const b = this.#draw(pool, total - a.weight, a)!;
    return b.inflight * a.weight < a.inflight * b.weight ? b : a;
  }

  #draw(pool: readonly BalancerUpstream[], total: number, exclude: BalancerUpstream | undefined): BalancerUpstream | undefined {
    let r = this.#random() * total;
    let last: BalancerUpstream | undefined;
    for (const u of pool) {
      if (u === exclude || !u.available || !(u.weight > 0)) continue;
      last = u;
      r -= u.weight;
      if (r < 0) return u;
    }
    return last;
  }
}
