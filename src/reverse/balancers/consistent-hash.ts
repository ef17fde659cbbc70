import type { Balancer, BalancerUpstream, PickContext } from './balancer.js';
import { hashString } from './hash.js';
import { parseHashKey, requestKey, type HashKey } from './request-key.js';
import { RoundRobinBalancer } from './round-robin.js';

/** Ring points per unit of weight; ~100 keeps every upstream's share within a few % of its weight. */
const VNODES_PER_WEIGHT = 100;

/**
 * Ketama-style consistent hashing on `hash_key` (`ip | header:NAME | cookie:NAME | path`).
 * Each upstream owns `round(weight × 100)` points on a 32-bit ring; a key goes to the owner of the
 * first point at or after its hash (binary search), walking on past unavailable owners, so an
 * upstream going down or being removed moves only its own keys (~1/N). The ring is cached and
 * rebuilt only when the pool's ids or ring weights change (checked by an O(N) compare, no
 * allocation). Requests without the key go round-robin.
 */
export class ConsistentHashBalancer implements Balancer {
  readonly #key: HashKey;
  readonly #fallback = new RoundRobinBalancer();
  // membership the ring was built from: ids and point counts by pool index
  #ids: string[] = [];
  #counts: number[] = [];
  #points = new Uint32Array(0);
  #owners = new Uint32Array(0);

  constructor(hashKey: string | HashKey = 'ip') {
    this.#key = typeof hashKey === 'string' ? parseHashKey(hashKey) : hashKey;
  }

  /** What pick() would answer, without moving the round-robin fallback used for requests without a key. */
  peek(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    return requestKey(this.#key, ctx) === undefined ? this.#fallback.peek(ctx, pool) : this.pick(ctx, pool);
  }

  pick(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const key = requestKey(this.#key, ctx);
    if (key === undefined) return this.#fallback.pick(ctx, pool);
    if (!this.#current(pool)) this.#rebuild(pool);
    const points = this.#points;
    const n = points.length;
    if (n === 0 || !pool.some((u) => u.available && u.weight > 0)) return undefined;
    const h = hashString(key);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    for (let step = 0; step < n; step++) {
      const u = pool[this.#owners[(lo + step) % n]!]!;
      if (u.available) return u;
    }
    return undefined;
  }

  /** Number of points on the current ring (for tests and /status). */
  get ringSize(): number {
    return this.#points.length;
  }

  #current(pool: readonly BalancerUpstream[]): boolean {
    if (pool.length !== this.#ids.length) return false;
    for (let i = 0; i < pool.length; i++) {
      const u = pool[i]!;
      if (u.id !== this.#ids[i] || pointCount(u.weight) !== this.#counts[i]) return false;
    }
    return true;
  }

  #rebuild(pool: readonly BalancerUpstream[]): void {
    this.#ids = pool.map((u) => u.id);
    this.#counts = pool.map((u) => pointCount(u.weight));
    const total = this.#counts.reduce((a, b) => a + b, 0);
    // pack (point, owner) into one float64 so a typed-array numeric sort orders both at once
    const packed = new Float64Array(total);
    let k = 0;
    for (let i = 0; i < pool.length; i++) {
      const id = this.#ids[i]!;
      // point j of an upstream depends only on (id, j): weight changes add/remove its own points
      for (let j = 0; j < this.#counts[i]!; j++) packed[k++] = hashString(`${id}#${j}`) * 1048576 + i;
    }
    packed.sort();
    this.#points = new Uint32Array(total);
    this.#owners = new Uint32Array(total);
    for (let j = 0; j < total; j++) {
      const v = packed[j]!;
      const owner = v % 1048576;
      this.#points[j] = (v - owner) / 1048576;
      this.#owners[j] = owner;
    }
  }
}

function pointCount(weight: number): number {
  // rounded so a slow-start ramp rebuilds the ring at most ~100 times per unit of weight
  return weight > 0 ? Math.max(1, Math.round(weight * VNODES_PER_WEIGHT)) : 0;
}
