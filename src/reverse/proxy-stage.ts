/** Forwards the request to an upstream of the route's pool, retrying idempotent requests on another upstream. */
import type { Stage } from '../core/pipeline.js';
import type { RequestContext } from '../core/context.js';
import { ProxyError } from '../core/errors.js';
import { forwardRequest, hasRequestBody, type ForwardError } from '../core/forward-request.js';
import { upstreamRequestHeaders } from '../core/headers.js';
import { limitedBody } from '../core/limits-stage.js';
import type { Metrics } from '../observability/metrics.js';
import type { UpstreamPool } from './upstream-pool.js';
import type { Upstream } from './upstream.js';
import { tunnelWebSocket } from './websocket-tunnel.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Failures that happened before the upstream could have acted on the request. */
const RETRYABLE = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'EHOSTUNREACH']);

export interface ProxyStageDeps {
  pools: () => ReadonlyMap<string, UpstreamPool>;
  metrics: Metrics;
  maxBodySize: number;
  /** `http` or `https`: what X-Forwarded-Proto says for requests on this listener. */
  proto: string;
  /** Told about every attempt's outcome (passive health checks). */
  onResult?: (pool: UpstreamPool, upstream: Upstream, error: unknown | undefined, status?: number) => void;
}

function forwardedFor(ctx: RequestContext): string {
  const prior = ctx.req.headers['x-forwarded-for'];
  return prior && ctx.listener.isTrusted(ctx.clientIp) ? `${prior}, ${ctx.clientIp}` : ctx.clientIp;
}

export function proxyStage(deps: ProxyStageDeps): Stage {
  return {
    name: 'proxy',
    async handle(ctx) {
      const pool = deps.pools().get(ctx.pool!);
      if (!pool) throw new ProxyError('internal', `pool ${ctx.pool} is gone`);
      const req = ctx.req;
      const method = req.method!;
      const trusted = ctx.listener.isTrusted(ctx.clientIp);
      const headers = upstreamRequestHeaders(req.rawHeaders, {
        via: ctx.listener.via,
        requestId: ctx.id,
        forwardedFor: forwardedFor(ctx),
        forwardedProto: (trusted && (req.headers['x-forwarded-proto'] as string | undefined)) || deps.proto,
        forwardedHost: (trusted && (req.headers['x-forwarded-host'] as string | undefined)) || req.headers.host,
        upgrade: ctx.upgrade !== undefined,
        set: ctx.setRequestHeaders,
        remove: ctx.removeRequestHeaders,
      });
      const body = !ctx.upgrade && hasRequestBody(req.headers) ? limitedBody(req, deps.maxBodySize) : null;
      const retryable = body === null && IDEMPOTENT.has(method);
      const pick = { clientIp: ctx.clientIp, headers: req.headers, path: ctx.path };
      let tried: Set<Upstream> | undefined;
      for (let attempt = 0; ; attempt++) {
        const upstream = pool.pick(pick, tried);
        if (!upstream) throw new ProxyError('no_healthy_upstream', `no healthy upstream in pool ${pool.name}`);
        ctx.upstream = upstream;
        upstream.inflight++;
        upstream.requests++;
        try {
          if (ctx.upgrade) {
            await tunnelWebSocket(ctx, upstream, headers, pool.config.connect_timeout);
          } else {
            const r = await forwardRequest(ctx, { dispatcher: upstream.dispatcher, origin: upstream.id }, { method, path: ctx.path, headers, body });
            upstream.recordResponseTime(r.headMs);
            ctx.upstreamMs = r.headMs;
            deps.onResult?.(pool, upstream, undefined, r.status);
          }
          return;
        } catch (e) {
          const fe = e as ForwardError;
          const cause = fe.cause ?? e;
          if (cause instanceof ProxyError && cause.kind === 'client_closed') throw cause;
          upstream.failures++;
          deps.onResult?.(pool, upstream, cause);
          const code = (cause as { code?: string }).code ?? '';
          if (fe.responded || ctx.upgrade || !retryable || attempt >= pool.config.retries || !RETRYABLE.has(code)) throw cause;
          (tried ??= new Set()).add(upstream);
          deps.metrics.retries.labels(pool.name).inc();
          ctx.logFields.retries = attempt + 1;
          ctx.log.info({ upstream: upstream.id, code, attempt: attempt + 1 }, 'retrying on another upstream');
        } finally {
          upstream.inflight--;
        }
      }
    },
  };
}
