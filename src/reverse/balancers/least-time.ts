import type { Balancer, BalancerUpstream, PickContext } from './balancer.js';

/** Share of picks sent to a weighted-random upstream so slow ones keep being measured. Default 0.05. */
const DEFAULT_EXPLORE = 0.05;

/**
 * nginx-plus/Envoy-style least time: score = responseTimeMs EWMA × (inflight + 1) / weight,
 * lowest wins, ties by weighted random. An unmeasured upstream (responseTimeMs 0) scores 0 while
 * idle, so it is tried at once; while it has requests in flight it is estimated at the fastest
 * measured time. A share `explore` of picks goes to a weighted-random available upstream so an
 * upstream that was slow keeps getting a trickle of traffic and its average can recover.
 */
export class LeastTimeBalancer implements Balancer {
  readonly #random: () => number;
  readonly #explore: number;

  constructor(random: () => number = Math.random, explore = DEFAULT_EXPLORE) {
    this.#random = random;
    this.#explore = Math.min(Math.max(explore, 0), 1);
  }

  pick(_ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    let fastest = Infinity;
    let totalWeight = 0;
    for (const u of pool) {
      if (!u.available || !(u.weight > 0)) continue;
      totalWeight += u.weight;
      if (u.responseTimeMs > 0 && u.responseTimeMs < fastest) fastest = u.responseTimeMs;
    }
    if (totalWeight === 0) return undefined;
    if (fastest === Infinity) fastest = 1; // nothing measured yet: behave as weighted least-conn

    if (this.#explore > 0 && this.#random() < this.#explore) return weightedRandom(pool, totalWeight, this.#random);

    let best: BalancerUpstream | undefined;
    let bestScore = Infinity;
    let tieWeight = 0;
    for (const u of pool) {
      if (!u.available || !(u.weight > 0)) continue;
      const time = u.responseTimeMs > 0 ? u.responseTimeMs : u.inflight === 0 ? 0 : fastest;
      const score = (time * (u.inflight + 1)) / u.weight;
      if (score < bestScore) {
        best = u;
        bestScore = score;
        tieWeight = u.weight;
      } else if (score === bestScore) {
        tieWeight += u.weight;
        if (this.#random() * tieWeight < u.weight) best = u;
      }
    }
    return best;
  }
}

function weightedRandom(pool: readonly BalancerUpstream[], total: number, random: () => number): BalancerUpstream | undefined {
  let r = random() * total;
  let last: BalancerUpstream | undefined;
  for (const u of pool) {
    if (!u.available || !(u.weight > 0)) continue;
    last = u;
    r -= u.weight;
    if (r < 0) return u;
  }
  return last; // float rounding at the very end of the range
}
