import type { Balancer, BalancerUpstream, PickContext } from './balancer.js';
import { fmix32, hashString } from './hash.js';
import { RoundRobinBalancer } from './round-robin.js';

/**
 * Client-address affinity by weighted rendezvous hashing (HRW): each upstream scores
 * `weight / -ln(hash(ip, upstream))` and the highest available one wins. The mapping is stable,
 * depends only on the upstream ids, not on pool order; when the chosen upstream is unavailable
 * its clients fall to their next-highest scorer (deterministic), and only they move. Requests
 * without a client address go round-robin. `clientIp` must already be the real client (the
 * pipeline resolves trusted proxies).
 */
export class IpHashBalancer implements Balancer {
  readonly #fallback = new RoundRobinBalancer();
  readonly #idHashes = new Map<string, number>();

  /** What pick() would answer, without moving the round-robin fallback used for requests without a key. */
  peek(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    return ctx.clientIp ? this.pick(ctx, pool) : this.#fallback.peek(ctx, pool);
  }

  pick(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const ip = ctx.clientIp;
    if (!ip) return this.#fallback.pick(ctx, pool);
    const keyHash = hashString(ip);
    let best: BalancerUpstream | undefined;
    let bestScore = -1;
    for (const u of pool) {
      if (!u.available || !(u.weight > 0)) continue;
      const score = rendezvousScore(keyHash, this.#idHash(u.id), u.weight);
      if (score > bestScore) {
        best = u;
        bestScore = score;
      }
    }
    return best;
  }

  #idHash(id: string): number {
    let h = this.#idHashes.get(id);
    if (h === undefined) {
      if (this.#idHashes.size > 4096) this.#idHashes.clear();
      h = hashString(id);
      this.#idHashes.set(id, h);
    }
    return h;
  }
}

/** Weighted HRW score: P(upstream wins) is proportional to its weight. */
function rendezvousScore(keyHash: number, idHash: number, weight: number): number {
  const h = fmix32((keyHash ^ Math.imul(idHash, 0x9e3779b1)) + idHash);
  const u = (h + 0.5) / 4294967296; // in (0, 1)
  return weight / -Math.log(u);
}
