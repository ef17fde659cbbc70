import type { Balancer, BalancerUpstream, PickContext } from './balancer.js';

/**
 * The available upstream with the fewest in-flight requests per unit of weight (nginx
 * `least_conn`). Ties, including the idle case where every count is 0, are broken by a
 * weighted random draw, so weights hold at low load and the first upstream is not favoured.
 */
export class LeastConnBalancer implements Balancer {
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  pick(_ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    let best: BalancerUpstream | undefined;
    let tieWeight = 0;
    for (const u of pool) {
      if (!u.available || !(u.weight > 0)) continue;
      if (!best) {
        best = u;
        tieWeight = u.weight;
        continue;
      }
      // inflight/weight compared by cross-multiplication: no division, exact for integers
      const d = u.inflight * best.weight - best.inflight * u.weight;
      if (d < 0) {
        best = u;
        tieWeight = u.weight;
      } else if (d === 0) {
        // weighted reservoir sampling over the tied set, in one pass
        tieWeight += u.weight;
        if (this.#random() * tieWeight < u.weight) best = u;
      }
    }
    return best;
  }
}
