/**
 * The proxy stage of a simulation: the balancer's answer (peeked, so no cursor moves), the sticky
 * cookie it would set, and nothing sent upstream.
 */
import type { Stage } from '../core/pipeline.js';
import type { UpstreamPool } from './upstream-pool.js';
import { firstUpstream } from './first-upstream.js';

export function dryProxyStage(pools: () => ReadonlyMap<string, UpstreamPool>): Stage {
  return {
    name: 'proxy (dry run)',
    async handle(ctx) {
      const { pool, pick, first: upstream } = await firstUpstream(ctx, pools(), true);
      if (pool.config.sticky) ctx.trace?.step('sticky', { mode: pool.config.sticky.mode, upstream: upstream.id, cookie_set: pool.stickyCookie(pick, upstream) !== undefined });
      ctx.upstream = upstream;
      ctx.trace?.step('upstream', { upstream: upstream.id, sent: false });
    },
  };
}
