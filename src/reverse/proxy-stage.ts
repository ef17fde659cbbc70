/** Sends the request to an upstream of the route's pool, retrying idempotent requests on another upstream. */
import type { Stage } from '../core/pipeline.js';
import type { RequestContext } from '../core/context.js';
import { forwardedForValue, forwardedValues } from '../core/client-address.js';
import { ProxyError } from '../core/errors.js';
import { onClientGone } from '../core/client-gone.js';
import { watchRequestBody } from '../core/body-watch.js';
import type { Limits } from '../config/types.js';
import { sendUpstream, requestHasBody, type UpstreamRequestError } from '../core/upstream-request.js';
import { sendWithRetries } from '../core/upstream-retry.js';
import { upstreamRequestHeaders } from '../core/headers.js';
import { limitedBody } from '../core/limits-stage.js';
import type { Metrics } from '../observability/metrics.js';
import type { UpstreamPool } from './upstream-pool.js';
import type { Upstream } from './upstream.js';
import { tunnelUpgrade } from './upgrade-tunnel.js';
import { firstUpstream } from './first-upstream.js';

export interface ProxyStageDeps {
  pools: () => ReadonlyMap<string, UpstreamPool>;
  metrics: Metrics;
  /** The listener's limits: body size and trailers, body timeout and rate, send_timeout. */
  limits: Limits;
  /** Request fields never forwarded: core's droppedRequestFields with the listener's strip_request_headers. */
  dropped: ReadonlySet<string>;
  /** `http` or `https`: what X-Forwarded-Proto says for requests on this listener. */
  proto: string;
  /** Told about every attempt's outcome (passive health checks). */
  onResult?: (pool: UpstreamPool, upstream: Upstream, error: unknown | undefined, status?: number) => void;
}

export function proxyStage(deps: ProxyStageDeps): Stage {
  return {
    name: 'proxy',
    async handle(ctx) {
      const req = ctx.req;
      const method = req.method!;
      const trusted = ctx.listener.isTrusted(ctx.clientIp);
      const headers = upstreamRequestHeaders(req.rawHeaders, {
        via: ctx.listener.via,
        requestId: ctx.id,
        forwardedFor: forwardedForValue(ctx),
        forwarded: forwardedValues(ctx, deps.proto),
        forwardedProto: (trusted && (req.headers['x-forwarded-proto'] as string | undefined)) || deps.proto,
        forwardedHost: (trusted && (req.headers['x-forwarded-host'] as string | undefined)) || req.headers.host,
        upgrade: ctx.upgrade !== undefined,
        set: ctx.setRequestHeaders,
        remove: ctx.removeRequestHeaders,
        dropped: deps.dropped,
      });
      const body = !ctx.upgrade && requestHasBody(req) ? limitedBody(req, deps.limits.max_body_size, deps.limits.max_headers) : null;
      const bodyWatch = body ? watchRequestBody(req, ctx.res, deps.limits) : undefined;
      const { pool, pick, first } = await firstUpstream(ctx, deps.pools(), false);
      let tried: Set<Upstream> | undefined;
      let traced: ReturnType<NonNullable<RequestContext['trace']>['step']> | undefined;
      await sendWithRetries<Upstream>(ctx, body, first, {
        retryResets: true,
        send: async (upstream, attempt) => {
          ctx.upstream = upstream;
          upstream.inflight++;
          upstream.requests++;
          // the sticky cookie names the upstream about to answer; taken back if it fails, so failover rewrites it
          const cookie = pool.stickyCookie(pick, upstream);
          const cookieAt = cookie ? (ctx.extraResponseHeaders?.length ?? 0) : -1;
          if (cookie) ctx.addResponseHeader('set-cookie', cookie);
          if (pool.config.sticky) ctx.trace?.step('sticky', { mode: pool.config.sticky.mode, upstream: upstream.id, cookie_set: cookie !== undefined });
          let slot = false;
          traced = ctx.trace?.step('upstream', { upstream: upstream.id, attempt });
          try {
            if (ctx.upgrade) {
              await tunnelUpgrade(ctx, upstream, headers, pool.config.connect_timeout);
              return;
            }
            // the fast path stays synchronous: a chunked body's limiter must meet undici's error listener before it can fail
            if (!upstream.slots.tryTake()) await waitForSlot(ctx, upstream, pool.config.queue_timeout);
            slot = true;
            const r = await sendUpstream(ctx, { dispatcher: upstream.dispatcher, origin: upstream.id }, {
              method, path: ctx.path, headers, body, sendTimeout: deps.limits.send_timeout, signal: bodyWatch?.signal,
            });
            upstream.recordResponseTime(r.headMs);
            ctx.upstreamMs = r.headMs;
            if (traced) { traced.status = r.status; traced.head_us = Math.round(r.headMs * 1000); }
            deps.onResult?.(pool, upstream, undefined, r.status);
          } catch (e) {
            if (cookieAt >= 0 && !(e as UpstreamRequestError).responded) ctx.extraResponseHeaders!.splice(cookieAt, 2);
            throw e;
          } finally {
            upstream.inflight--;
            if (slot) upstream.slots.release();
          }
        },
        failed: (upstream, cause, code) => {
          upstream.failures++;
          deps.onResult?.(pool, upstream, cause);
          if (traced) traced.failed = code || (cause as Error).message;
        },
        next: (upstream, attempt) => {
          if (ctx.upgrade || attempt >= pool.config.retries) return undefined;
          (tried ??= new Set()).add(upstream);
          // every upstream tried: the answer names what went wrong (refused, reset…), not "no healthy upstream"
          return pool.pick(pick, tried);
        },
        retrying: (upstream, nextUpstream, why, attempt) => {
          deps.metrics.retries.labels(pool.name).inc();
          ctx.logFields.retries = attempt;
          ctx.trace?.step('retry', { from: upstream.id, why, next: nextUpstream.id });
          ctx.log.info({ upstream: upstream.id, code: why, attempt, next: nextUpstream.id }, 'retrying on another upstream');
        },
      });
    },
  };
}

/** Waits up to `queueTimeout` for one of the upstream's connection slots (503 after); gives up when the client leaves. */
async function waitForSlot(ctx: RequestContext, upstream: Upstream, queueTimeout: number): Promise<void> {
  let stop: (() => void) | undefined;
  try {
    await upstream.slots.wait(queueTimeout, (withdraw) => { stop = onClientGone(ctx.res, withdraw); });
  } finally {
    stop?.();
  }
}
