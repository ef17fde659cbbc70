/** Stages every listener starts with: the access log and metrics, then the error responder. */
import type { Metrics } from '../observability/metrics.js';
import type { RouteFallback } from '../observability/route-fallbacks.js';
import type { RequestContext } from './context.js';
import { sendError } from './error-response.js';
import { toProxyError } from './errors.js';
import type { Stage } from './pipeline.js';

/** One access-log line and one metrics observation per request, once the response is complete. */
export function accessLogStage(metrics: Metrics): Stage {
  return {
    name: 'access-log',
    // a plain then (not async/await): one promise fewer per request; next() never throws synchronously (compose)
    handle(ctx, next) {
      return next().then(() => logAccess(ctx, metrics), (err: unknown) => { logAccess(ctx, metrics); throw err; });
    },
  };
}

function logAccess(ctx: RequestContext, metrics: Metrics): void {
  const ms = performance.now() - ctx.startMs;
  const status = ctx.finalStatus ?? (ctx.res.headersSent || ctx.res.writableEnded ? ctx.res.statusCode : ctx.error?.status ?? 499);
  metrics.observeRequest(ctx.listener.name, ctx.route?.name ?? '-', status, ms / 1000);
  const fallback = ctx.logFields.route_fallback as RouteFallback | undefined;
  if (fallback) metrics.routeFallbacks.labels(fallback.plugin, fallback.reason).inc();
  const err = ctx.error;
  if (err && !err.clientCaused) {
    metrics.noteError({
      at: new Date().toISOString(), listener: ctx.listener.name, req_id: ctx.id, method: ctx.req.method ?? '', path: ctx.req.url ?? '',
      status, error: err.proxyStatus, detail: err.detail,
    });
  }
  ctx.listener.accessLog.write({
    reqId: ctx.id,
    method: ctx.req.method,
    path: ctx.req.url,
    protocol: ctx.protocol,
    status,
    ms,
    bytes: ctx.clientSink.bytes,
    client: ctx.clientIp,
    route: ctx.route?.name,
    slots: ctx.slots,
    upstream: ctx.upstream?.id,
    upstream_status: ctx.upstreamStatus,
    upstream_ms: ctx.upstreamMs,
    tls: ctx.tls,
    error: ctx.error?.proxyStatus,
    extra: ctx.logFields,
  });
}

/** Turns any failure of a later stage into the proxy's error response (or a reset when the head is out). */
export const errorResponderStage: Stage = {
  name: 'error-responder',
  async handle(ctx, next) {
    try {
      await next();
    } catch (raw) {
      const err = toProxyError(raw);
      ctx.error = err;
      if (err.status >= 500 && !err.clientCaused) {
        ctx.log.warn({ err: raw instanceof Error && raw !== err ? { message: raw.message, code: (raw as { code?: string }).code } : undefined, kind: err.kind }, 'request failed');
      }
      if (err.kind === 'client_closed') return;
      if (err.kind === 'send_timeout') { ctx.res.destroy(); return; }
      if (ctx.res.headersSent) ctx.res.destroy();
      else if (!ctx.res.destroyed) ctx.clientSink.bytes += sendError(ctx.res, err, ctx.id, ctx.extraResponseHeaders, ctx.listener.nodeId);
    }
  },
};
