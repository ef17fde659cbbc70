/**
 * The first upstream a request goes to, for the proxy stage and its dry run alike: a routing plugin's
 * pin while that upstream is available, else the balancer's choice (peeked in a dry run, so no cursor
 * moves). Writes the `balancer` trace step; 503 when the pool has nothing available.
 */
import { clientAddress } from '../core/client-address.js';
import type { RequestContext } from '../core/context.js';
import { ProxyError } from '../core/errors.js';
import type { PickContext } from './balancers/balancer.js';
import type { UpstreamPool } from './upstream-pool.js';
import type { Upstream } from './upstream.js';

export interface FirstUpstream {
  pool: UpstreamPool;
  /** What the balancer reads of the request; later picks (retries) and the sticky cookie use it too. */
  pick: PickContext & { clientIp: string };
  first: Upstream;
}

export async function firstUpstream(ctx: RequestContext, pools: ReadonlyMap<string, UpstreamPool>, dry: boolean): Promise<FirstUpstream> {
  const pool = pools.get(ctx.slots.pool!);
  if (!pool) throw new ProxyError('internal', `pool ${ctx.slots.pool} is gone`);
  // balancers hash the real client, not the load balancer in front of us
  const pick = { clientIp: clientAddress(ctx.clientIp, ctx.req.headers['x-forwarded-for'], ctx.listener), headers: ctx.req.headers, path: ctx.path };
  // shared ip-sticky pools: learn the fleet's pin for this client first (bounded by shared.timeout)
  const prepared = pool.prepare(pick.clientIp);
  if (prepared) await prepared;
  let pinned = ctx.slots.pinnedUpstream === undefined ? undefined : pool.find(ctx.slots.pinnedUpstream);
  if (pinned && !pinned.available) { ctx.logFields.pin_unavailable = pinned.id; pinned = undefined; }
  // 503 only when nothing was available to begin with (health checks marked every upstream down)
  const first = pinned ?? (dry ? pool.peek(pick) : pool.pick(pick));
  ctx.trace?.step('balancer', {
    pool: pool.name, policy: pool.config.balance, sticky: pool.config.sticky?.mode, pinned: ctx.slots.pinnedUpstream,
    candidates: pool.upstreams.filter((u) => u.available).map((u) => u.id), pick: first?.id,
  });
  if (!first) throw new ProxyError('no_healthy_upstream', `no healthy upstream in pool ${pool.name}`);
  return { pool, pick, first };
}
