/**
 * The proxy stage of a simulation: the balancer's answer (peeked, so no cursor moves), the sticky
 * cookie it would set, and nothing sent upstream.
 */
import { clientAddress } from '../core/client-address.js';
import { ProxyError } from '../core/errors.js';
import type { Stage } from '../core/pipeline.js';
import type { UpstreamPool } from './upstream-pool.js';

export function dryProxyStage(pools: () => ReadonlyMap<string, UpstreamPool>): Stage {
  return {
    name: 'proxy (dry run)',
    handle(ctx) {
      const pool = pools().get(ctx.slots.pool!);
      if (!pool) throw new ProxyError('internal', `pool ${ctx.slots.pool} is gone`);
      const pick = { clientIp: clientAddress(ctx.clientIp, ctx.req.headers['x-forwarded-for'], ctx.listener), headers: ctx.req.headers, path: ctx.path };
      const pinned = ctx.slots.pinnedUpstream === undefined ? undefined : pool.find(ctx.slots.pinnedUpstream);
      const upstream = (pinned?.available ? pinned : undefined) ?? pool.peek(pick);
      ctx.trace?.step('balancer', {
        pool: pool.name, policy: pool.config.balance, sticky: pool.config.sticky?.mode, pinned: ctx.slots.pinnedUpstream,
        candidates: pool.upstreams.filter((u) => u.available).map((u) => u.id), pick: upstream?.id,
      });
      if (!upstream) throw new ProxyError('no_healthy_upstream', `no healthy upstream in pool ${pool.name}`);
      if (pool.config.sticky) ctx.trace?.step('sticky', { mode: pool.config.sticky.mode, upstream: upstream.id, cookie_set: pool.stickyCookie(pick, upstream) !== undefined });
      ctx.upstream = upstream;
      ctx.trace?.step('upstream', { upstream: upstream.id, sent: false });
      return Promise.resolve();
    },
  };
}
