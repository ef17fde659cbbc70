import type { BalancerUpstream } from '../../../src/reverse/balancers/balancer.js';

/** A mutable in-memory upstream (Caddy's testPool idea). */
export interface TestUpstream extends BalancerUpstream {
  weight: number;
  available: boolean;
  inflight: number;
  responseTimeMs: number;
}

export function upstream(id: string, fields: Partial<Omit<TestUpstream, 'id'>> = {}): TestUpstream {
  return { id, weight: 1, available: true, inflight: 0, responseTimeMs: 0, ...fields };
}

export function pool(n: number, fields: Partial<Omit<TestUpstream, 'id'>> = {}): TestUpstream[] {
  return Array.from({ length: n }, (_, i) => upstream(`http://127.0.0.1:${9001 + i}`, fields));
}

/** Deterministic PRNG (mulberry32) for balancers that take `random`. */
export function seeded(seed = 42): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks per upstream id. */
export function tally(picks: readonly (BalancerUpstream | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of picks) {
    const k = p?.id ?? 'none';
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
