/**
 * The cache as a pipeline stage (after routing, before the proxy stage). A fresh hit is answered
 * here and never calls `next`; anything else is forwarded through `next` with a CacheWriter around
 * the sink, which stores the response while streaming it and handles revalidation and stale-if-error.
 * Both modes use it: reverse routes with `cache: true`, and forward listeners (key: absolute-form URI).
 *
 * The forwarding stage behind it must write the upstream response into `ctx.sink` and honour
 * `ctx.setRequestHeaders` / `ctx.removeRequestHeaders` (how validators replace the client's own).
 */
import type { RequestContext } from '../core/context.js';
import { ProxyError, toProxyError } from '../core/errors.js';
import type { Stage } from '../core/pipeline.js';
import type { ResponseSink } from '../core/response-sink.js';
import { requestCacheControl, type CacheControl } from './cache-control.js';
import { effectiveUri } from './cache-key.js';
import { cacheStatus, type FwdReason } from './cache-status.js';
import { CacheWriter, mayServeStale, NULL_SINK, type ForwardPlan } from './cache-writer.js';
import { revalidationHeaders } from './conditional.js';
import { evaluateReuse, ttl } from './freshness.js';
import type { CacheMode, HttpCache } from './http-cache.js';
import { answerPurge } from './purge.js';
import { serveStored } from './serve-stored.js';
import type { StoredResponse } from './stored-response.js';

export interface CacheStageOptions {
  readonly cache: HttpCache;
  readonly mode: CacheMode;
  /** Scheme of origin-form request targets (reverse: `http` or `https`); absolute-form targets carry their own. */
  readonly scheme: string;
  /** Whether a request uses the cache. Default: the matched route's `cache` flag. */
  readonly enabled?: (ctx: RequestContext) => boolean;
  /** Who may send PURGE. Undefined: PURGE is not answered here (it goes upstream, and invalidates like any unsafe method). */
  readonly purgeAllowed?: (ip: string) => boolean;
  /** Longest a coalesced request waits for another one's response, ms (the pool's response_timeout). */
  readonly waitLimit: (ctx: RequestContext) => number;
  /** The request's effective URI when `scheme` + Host + target is not it (e.g. intercepted TLS). */
  readonly targetUri?: (ctx: RequestContext) => string | undefined;
}

/** The client's validators, replaced by ours when we revalidate or want a full response to store. */
const CLIENT_VALIDATORS = ['if-none-match', 'if-modified-since'];
/** A background refresh sends none of the client's preconditions. */
const CLIENT_PRECONDITIONS = [...CLIENT_VALIDATORS, 'if-match', 'if-unmodified-since', 'if-range', 'range'];

/** The simulator's lookups leave recency alone. */
const PEEK = { peek: true } as const;

const byRoute = (ctx: RequestContext) => ctx.route?.cache === true;

/** A stored response's reuse decision, in the words of RFC 9111, for the decision trace. */
function reuseExplained(reuse: ReturnType<typeof evaluateReuse>): Record<string, unknown> {
  const times = { age_s: Math.round(reuse.age), ttl_s: Math.round(reuse.ttl) };
  if (reuse.action === 'use') return { lookup: 'hit', reason: reuse.stale ? 'stale: allowed by request max-stale' : 'fresh', ...times };
  if (reuse.action === 'use-and-revalidate') return { lookup: 'hit', reason: 'stale: stale-while-revalidate (RFC 5861)', ...times };
  const reason = reuse.detail === 'no-cache' ? 'stale: response no-cache requires revalidation'
    : reuse.fwd === 'request' ? 'request directives (no-cache, max-age or min-fresh) refuse the stored response'
      : reuse.ttl <= 0 ? 'stale: max-age exceeded' : 'stale: request no-cache';
  return { lookup: reuse.fwd, reason, ...times };
}

export function cacheStage(opts: CacheStageOptions): Stage {
  const { cache, mode, scheme } = opts;
  const enabled = opts.enabled ?? byRoute;
  // Effective URIs by Host + target: parsing a URL is the costliest step of a hit otherwise.
  const uris = new Map<string, string | null>();
  const uriOf = (ctx: RequestContext): string | undefined => {
    if (opts.targetUri) return opts.targetUri(ctx);
    const headers = ctx.req.headers;
    // behind a trusted proxy the scheme and host the client used (X-Forwarded-Proto/-Host, which reach the
    // origin) are what its answer depends on: they make the key
    const trusted = (headers['x-forwarded-proto'] !== undefined || headers['x-forwarded-host'] !== undefined) && ctx.listener.isTrusted(ctx.clientIp);
    const fwdHost = trusted ? headers['x-forwarded-host'] : undefined;
    const host = (typeof fwdHost === 'string' && fwdHost) || (headers.host ?? '');
    const forwarded = headers['x-forwarded-proto'];
    const proto = trusted && typeof forwarded === 'string' && (forwarded === 'https' || forwarded === 'http') ? forwarded : scheme;
    const raw = `${proto} ${host} ${ctx.req.url}`;
    let uri = uris.get(raw);
    if (uri === undefined) {
      uri = (host || /^[a-z][a-z0-9+.-]*:\/\//i.test(ctx.req.url ?? '') ? effectiveUri(proto, host, ctx.req.url ?? '/') : undefined) ?? null;
      if (uris.size >= 10_000) uris.clear();
      uris.set(raw, uri);
    }
    return uri ?? undefined;
  };

  async function forward(ctx: RequestContext, next: () => Promise<void>, plan: ForwardPlan): Promise<void> {
    let inner!: ResponseSink;
    let writer!: CacheWriter;
    ctx.wrapSink((sink) => { inner = sink; return (writer = new CacheWriter(sink, ctx, plan)); });
    try {
      await next();
    } catch (e) {
      if (writer.fromStore) return; // the client already has the stored response; the upstream's fate no longer matters
      const err = toProxyError(e);
      const now = Date.now();
      const stale = plan.stale;
      if (!writer.headSeen && stale && err.kind !== 'client_closed'
        && mayServeStale(stale, plan.reqCc, now, 'network', cache.storage(mode))) {
        ctx.logFields.cache = 'stale-if-error';
        serveStored(ctx, stale, { fwd: 'stale', ttl: ttl(stale, now), detail: 'stale-if-error' }, now, { sink: inner });
        return;
      }
      if (!writer.headSeen) ctx.addResponseHeader('cache-status', cacheStatus({ fwd: plan.fwd, detail: err.kind }));
      throw e;
    } finally {
      plan.flight?.settle();
    }
  }

  /** stale-while-revalidate: the client has its answer; refresh once, with our own sink and validators. */
  function refresh(ctx: RequestContext, next: () => Promise<void>, entry: StoredResponse, uri: string, reqCc: CacheControl): void {
    const id = `${entry.key}\n${entry.varyKey}`;
    if (cache.refreshing.has(id)) return;
    cache.refreshing.add(id);
    ctx.removeRequestHeaders = [...(ctx.removeRequestHeaders ?? []), ...CLIENT_PRECONDITIONS];
    ctx.setRequestHeaders = [...(ctx.setRequestHeaders ?? []), ...Object.entries(revalidationHeaders(entry))];
    const plan: ForwardPlan = {
      cache, mode, uri, method: 'GET', reqCc, fwd: 'stale', stale: entry, clientConditional: false, mayStore: true, requestTime: Date.now(),
    };
    ctx.wrapSink(() => new CacheWriter(NULL_SINK, ctx, plan));
    next()
      .catch((e: unknown) => ctx.log.debug({ err: (e as Error).message }, 'background revalidation failed'))
      .finally(() => cache.refreshing.delete(id));
  }

  /** The simulator's lookup: what the cache would do, with no count, no recency, no coalescing and no write. */
  function dryLookup(ctx: RequestContext, next: () => Promise<void>): Promise<void> {
    const uri = uriOf(ctx);
    const method = ctx.req.method!;
    if (uri === undefined) { ctx.trace?.step('cache', { lookup: 'bypass', reason: 'no effective URI' }); return next(); }
    if (method !== 'GET' && method !== 'HEAD') {
      ctx.trace?.step('cache', { lookup: 'method', reason: `${method} is not served from the cache (RFC 9111 §4)` });
      return next();
    }
    const found = cache.store.lookup(`GET ${uri}`, ctx.req.headers, PEEK);
    if (found.result !== 'hit') {
      ctx.trace?.step('cache', { lookup: found.result, reason: found.result === 'vary-miss' ? 'stored responses differ in a Vary header (RFC 9111 §4.1)' : 'nothing stored for this URI' });
      return next();
    }
    const reuse = evaluateReuse(found.response, requestCacheControl(ctx.req.headers), Date.now());
    ctx.trace?.step('cache', reuseExplained(reuse));
    if (reuse.action === 'revalidate') return next();
    // served from the cache: nothing would go upstream
    ctx.finalStatus = found.response.status;
    ctx.logFields.cache = 'hit';
    return Promise.resolve();
  }

  return {
    name: 'cache',
    async handle(ctx, next) {
      if (ctx.upgrade || !enabled(ctx)) return next();
      if (ctx.dryRun) return dryLookup(ctx, next);
      const req = ctx.req;
      const method = req.method!;
      const uri = uriOf(ctx);
      if (uri === undefined) {
        cache.countLookup('bypass');
        ctx.trace?.step('cache', { lookup: 'bypass', reason: 'no effective URI' });
        ctx.addResponseHeader('cache-status', cacheStatus({ fwd: 'bypass', detail: 'no-uri' }));
        return next();
      }
      if (method === 'PURGE' && opts.purgeAllowed) return answerPurge(ctx, cache, uri, opts.purgeAllowed);
      const reqCc = requestCacheControl(req.headers);
      const requestTime = Date.now();
      if (method !== 'GET' && method !== 'HEAD') {
        cache.countLookup('method');
        ctx.trace?.step('cache', { lookup: 'method', reason: `${method} is not served from the cache (RFC 9111 §4)` });
        return forward(ctx, next, { cache, mode, uri, method, reqCc, fwd: 'method', clientConditional: false, mayStore: method === 'POST', requestTime });
      }
      const key = `GET ${uri}`;
      const found = cache.store.lookup(key, req.headers);
      let stale: StoredResponse | undefined;
      let fwd: FwdReason;
      if (found.result === 'hit') {
        const entry = found.response;
        const reuse = evaluateReuse(entry, reqCc, requestTime);
        ctx.trace?.step('cache', reuseExplained(reuse));
        if (reuse.action === 'use') {
          cache.countLookup('hit');
          ctx.logFields.cache = 'hit';
          return serveStored(ctx, entry, { hit: true, ttl: reuse.ttl, ...(reuse.stale ? { detail: 'max-stale' } : {}) }, requestTime);
        }
        if (reuse.action === 'use-and-revalidate') {
          cache.countLookup('hit');
          ctx.logFields.cache = 'stale-while-revalidate';
          serveStored(ctx, entry, { hit: true, ttl: reuse.ttl, detail: 'stale-while-revalidate' }, requestTime);
          if (method === 'GET' && !reqCc.onlyIfCached) refresh(ctx, next, entry, uri, reqCc);
          return;
        }
        stale = entry;
        fwd = reuse.fwd;
      } else {
        fwd = found.result;
        ctx.trace?.step('cache', { lookup: fwd, reason: fwd === 'vary-miss' ? 'stored responses differ in a Vary header (RFC 9111 §4.1)' : 'nothing stored for this URI' });
      }
      if (reqCc.onlyIfCached) {
        cache.countLookup(fwd);
        ctx.addResponseHeader('cache-status', cacheStatus({ fwd, detail: 'only-if-cached' }));
        throw new ProxyError('not_cached', 'only-if-cached: no usable stored response');
      }
      const range = req.headers.range !== undefined;
      const mayStore = method === 'GET' && !range && !reqCc.noStore;
      let flight: ForwardPlan['flight'];
      let collapsed: false | undefined;
      if (mayStore) {
        const current = cache.coalescer.current(key);
        if (!current) flight = cache.coalescer.lead(key);
        else {
          const settled = await cache.coalescer.wait(current, opts.waitLimit(ctx));
          if (ctx.res.destroyed) throw new ProxyError('client_closed');
          const again = settled ? cache.store.lookup(key, req.headers) : undefined;
          if (again?.result === 'hit') {
            const now = Date.now();
            const reuse = evaluateReuse(again.response, reqCc, now);
            if (reuse.action === 'use') {
              cache.countLookup('collapsed');
              ctx.logFields.cache = 'collapsed';
              return serveStored(ctx, again.response, { fwd, collapsed: true, ttl: reuse.ttl }, now);
            }
            stale = again.response;
          }
          collapsed = false;
        }
      }
      cache.countLookup(fwd);
      // Revalidate with our validators; a Range request just goes through (its answer is not stored).
      const revalidate = range ? undefined : stale;
      const clientConditional = (mayStore || revalidate !== undefined)
        && (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined);
      if (mayStore || revalidate) {
        if (clientConditional) ctx.removeRequestHeaders = [...(ctx.removeRequestHeaders ?? []), ...CLIENT_VALIDATORS];
        if (revalidate) {
          const validators = Object.entries(revalidationHeaders(revalidate));
          if (validators.length) ctx.setRequestHeaders = [...(ctx.setRequestHeaders ?? []), ...validators];
        }
      }
      return forward(ctx, next, {
        cache, mode, uri, method, reqCc, fwd, clientConditional, mayStore, requestTime: Date.now(),
        ...(revalidate ? { stale: revalidate } : {}), ...(flight ? { flight } : {}), ...(collapsed === false ? { collapsed } : {}),
      });
    },
  };
}
