import { peekOf, type Balancer, type BalancerUpstream, type PickContext } from '../balancers/balancer.js';

export interface IpStickyOptions {
  /** How long a client stays pinned after its last request, ms. Default 30 min (HAProxy stick-table `expire 30m`). */
  readonly ttlMs?: number;
  /** Most clients remembered; the least recently seen is forgotten first. Default 100 000. */
  readonly maxEntries?: number;
  /** Clock, injected for tests. Default Date.now. */
  readonly now?: () => number;
  /** The fleet's table (shared.redis): pins are written to it, and a client unknown here is looked up in it. */
  readonly store?: StickyStore;
}

/** A table shared by a fleet; `lookup` resolves undefined when unknown or when the store did not answer in time. */
export interface StickyStore {
  lookup(ip: string): Promise<string | undefined>;
  remember(ip: string, upstreamId: string, ttlMs: number): void;
}

/**
 * `sticky: { mode: ip }`: source-address persistence as a stick table (HAProxy `stick on src`).
 * A client's first request goes to the fallback balancer (so least_conn etc. still decide), and
 * the choice is remembered for `ttlMs` after its last request. If the remembered upstream is
 * unavailable or gone the client is re-balanced and re-pinned. Chosen over plain ip_hash because
 * it keeps the pool's balancing policy and does not bounce clients back when an upstream returns;
 * without a `store` the table is per process (lost on restart, not shared between nodes); with one,
 * every pin is also written to the fleet's table and a client this process does not know is looked
 * up there first (`prepare`), so a client keeps its upstream whichever instance it reaches.
 * Memory is bounded by `maxEntries` (~100 bytes each).
 */
export class IpStickyBalancer implements Balancer {
  readonly #fallback: Balancer;
  readonly #ttl: number;
  readonly #max: number;
  readonly #now: () => number;
  // Map iteration order is insertion order: re-inserting on use makes the first key the oldest
  readonly #table = new Map<string, { id: string; expires: number; sharedAt: number }>();
  readonly #store?: StickyStore;

  constructor(fallback: Balancer, opts: IpStickyOptions = {}) {
    this.#fallback = fallback;
    this.#ttl = opts.ttlMs ?? 30 * 60_000;
    this.#max = Math.max(1, opts.maxEntries ?? 100_000);
    this.#now = opts.now ?? Date.now;
    this.#store = opts.store;
  }

  /**
   * With a shared store: a lookup to await before `pick` when this process has no live pin for `ip`,
   * which seeds the local table with the fleet's pin. Undefined when there is nothing to wait for.
   */
  prepare(ip: string): Promise<void> | undefined {
    if (!this.#store || !ip) return undefined;
    const entry = this.#table.get(ip);
    if (entry && entry.expires > this.#now()) return undefined;
    return this.#store.lookup(ip).then((id) => {
      if (id === undefined) return;
      const now = this.#now();
      const live = this.#table.get(ip);
      if (live && live.expires > now) return;
      this.#table.delete(ip);
      if (this.#table.size >= this.#max) this.#evict(now);
      this.#table.set(ip, { id, expires: now + this.#ttl, sharedAt: now });
    });
  }

  pick(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const ip = ctx.clientIp;
    if (!ip) return this.#fallback.pick(ctx, pool);
    const now = this.#now();
    const entry = this.#table.get(ip);
    if (entry && entry.expires > now) {
      const u = pool.find((p) => p.id === entry.id);
      if (u?.available) {
        this.#table.delete(ip);
        entry.expires = now + this.#ttl;
        this.#table.set(ip, entry);
        // keep the fleet's entry alive too, without a write per request
        if (this.#store && now - entry.sharedAt > this.#ttl / 4) { entry.sharedAt = now; this.#store.remember(ip, u.id, this.#ttl); }
        return u;
      }
    }
    const u = this.#fallback.pick(ctx, pool);
    this.#table.delete(ip);
    if (u) {
      if (this.#table.size >= this.#max) this.#evict(now);
      this.#table.set(ip, { id: u.id, expires: now + this.#ttl, sharedAt: now });
      this.#store?.remember(ip, u.id, this.#ttl);
    }
    return u;
  }

  peek(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const entry = ctx.clientIp ? this.#table.get(ctx.clientIp) : undefined;
    if (entry && entry.expires > this.#now()) {
      const u = pool.find((p) => p.id === entry.id);
      if (u?.available) return u;
    }
    return peekOf(this.#fallback, ctx, pool);
  }

  /** Clients currently remembered (expired entries included until evicted). */
  get size(): number {
    return this.#table.size;
  }

  #evict(now: number): void {
    // drop expired entries from the old end, and at least one entry
    let dropped = 0;
    for (const [ip, e] of this.#table) {
      if (dropped > 0 && e.expires > now) break;
      this.#table.delete(ip);
      dropped++;
    }
  }
}
