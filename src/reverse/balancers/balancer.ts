import type { IncomingHttpHeaders } from 'node:http';

/** What a balancer may read of an upstream. It never changes it. */
export interface BalancerUpstream {
  /** Stable id, unique in the pool (the upstream URL's origin). */
  readonly id: string;
  /** Configured weight, >= 1 (after slow start ramps it, may be fractional > 0). */
  readonly weight: number;
  /** Healthy, not ejected, not draining: the only upstreams a balancer may return. */
  readonly available: boolean;
  /** Requests (or TCP connections) in flight on this upstream right now. */
  readonly inflight: number;
  /** Moving average of the upstream's response time in ms (0 until measured). */
  readonly responseTimeMs: number;
}

/** What a balancer may know of the request. Every field may be missing. */
export interface PickContext {
  readonly clientIp?: string;
  readonly headers?: IncomingHttpHeaders;
  readonly path?: string;
}

/**
 * Picks one available upstream, or undefined when none is available.
 * No I/O, never throws, no change to upstream state (only its own cursor/state).
 */
export interface Balancer {
  pick(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined;
  /** What pick() would answer now, without moving its cursor or tables (the simulator). Absent: pick() keeps no such state. */
  peek?(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined;
}

/** A pick that changes nothing: `peek` when the balancer has state a pick would move, else `pick`. */
export function peekOf(b: Balancer, ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
  return b.peek ? b.peek(ctx, pool) : b.pick(ctx, pool);
}
