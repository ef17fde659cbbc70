/**
 * The response side of a request the cache forwarded: a tee sink that streams the upstream response
 * to the client while keeping a copy to store (never buffering before sending), and that answers
 * from the stored response instead when a revalidation comes back 304 or a failure allows stale.
 * A copy is dropped when it grows past max_object_size, when the body is truncated (upstream reset,
 * fewer bytes than Content-Length), or when the request was a Range request.
 */
import type { RequestContext } from '../core/context.js';
import { PassThroughSink, type ResponseSink } from '../core/response-sink.js';
import type { CacheControl } from './cache-control.js';
import { invalidationTargets, isSafeMethod } from './cache-key.js';
import { cacheStatus, type CacheStatusInfo, type FwdReason } from './cache-status.js';
import type { Flight } from './coalescer.js';
import { evaluateConditional, headUpdate, notModifiedHeaderList, validatorsMatch } from './conditional.js';
import { canServeStaleOnError, correctedInitialAge, freshnessLifetime, ttl, type UpstreamFailure } from './freshness.js';
import { firstValue } from './headers.js';
import { parseHttpDate } from './http-date.js';
import type { CacheMode, HttpCache } from './http-cache.js';
import { serveStored } from './serve-stored.js';
import { isCompleteBody, isStorable, type StorageOptions } from './storability.js';
import { createStoredResponse, freshen, type StoredResponse } from './stored-response.js';

/** What the cache stage decided before forwarding. */
export interface ForwardPlan {
  readonly cache: HttpCache;
  readonly mode: CacheMode;
  /** Normalised target URI. */
  readonly uri: string;
  readonly method: string;
  readonly reqCc: CacheControl;
  /** Cache-Status `fwd` reason. */
  readonly fwd: FwdReason;
  /** The stored response being revalidated: its validators were sent instead of the client's. */
  readonly stale?: StoredResponse;
  /** The client's own If-None-Match / If-Modified-Since were replaced: answer them from the result. */
  readonly clientConditional: boolean;
  /** GET without Range and without request no-store, or POST (stored only under its Content-Location). */
  readonly mayStore: boolean;
  /** Released once the outcome is known, so coalesced waiters look the store up again. */
  readonly flight?: Flight;
  /** Cache-Status `collapsed=?0`: this request waited for another one and then had to go forward itself. */
  readonly collapsed?: false;
  readonly requestTime: number;
}

interface Copy {
  readonly key: string;
  readonly status: number;
  readonly res: Record<string, string | string[]>;
  readonly strip: readonly string[];
  readonly responseTime: number;
  readonly chunks: Buffer[];
  size: number;
}

/** Upstream status or network failure: may the stored response be served stale instead? (stale-if-error and grace) */
export function mayServeStale(stale: StoredResponse, reqCc: CacheControl, nowMs: number, failure: UpstreamFailure, opts: StorageOptions): boolean {
  if (canServeStaleOnError(stale, reqCc, nowMs, failure, opts)) return true;
  // The configured grace also covers an upstream that answers 500/502/503/504 (it is down in all but name).
  return typeof failure === 'number' && opts.graceSeconds > 0 && [500, 502, 503, 504].includes(failure)
    && canServeStaleOnError(stale, reqCc, nowMs, 'network', opts);
}

/** Header map of a flat list; our own X-Request-Id is not part of the response. */
function headerMap(list: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    if (name === 'x-request-id') continue;
    const value = list[i + 1]!;
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (typeof prev === 'string') out[name] = [prev, value];
    else prev.push(value);
  }
  return out;
}

export class CacheWriter extends PassThroughSink {
  #copy?: Copy;
  #headSeen = false;
  /** The client's response is complete (or aborted): drop the rest of the upstream's. */
  #finished = false;
  /** The client was answered from the stored response (a 304 freshened it, or stale-if-error). */
  #fromStore = false;
  /** The client got a 304 for its own conditional; the body is only stored. */
  #bodyless = false;

  constructor(next: ResponseSink, private readonly ctx: RequestContext, private readonly plan: ForwardPlan) {
    super(next);
  }

  /** Whether the upstream's response head arrived. */
  get headSeen(): boolean { return this.#headSeen; }
  /** Whether the client was answered from the stored response instead of the upstream's. */
  get fromStore(): boolean { return this.#fromStore; }

  override head(status: number, list: string[]): void {
    this.#headSeen = true;
    const { ctx, plan } = this;
    const { cache, stale } = plan;
    // upstream-request.ts appended the stages' own response headers (HSTS, sticky cookie): not part of the response
    const extras = ctx.extraResponseHeaders?.length ?? 0;
    const own = extras ? list.slice(0, list.length - extras) : list;
    const res = headerMap(own);
    const now = Date.now();
    const storage = cache.storage(plan.mode);
    if (!isSafeMethod(plan.method)) {
      for (const uri of invalidationTargets(plan.method, status, plan.uri, res)) cache.store.purge({ uri });
    }
    if (stale) {
      if (status === 304) {
        if (validatorsMatch(stale, res)) return this.#revalidated(stale, res, now, storage);
        cache.store.delete(stale);
      } else if (plan.method === 'HEAD') {
        this.#headUpdate(stale, status, res, now, storage);
      } else if (status >= 500 && mayServeStale(stale, plan.reqCc, now, status, storage)) {
        return this.#answerStale(stale, status, now);
      }
    }
    const info: { -readonly [K in keyof CacheStatusInfo]: CacheStatusInfo[K] } = { fwd: plan.fwd };
    if (plan.collapsed === false) info.collapsed = false;
    if (plan.mayStore) this.#decideStore(status, res, now, storage, info);
    if (!this.#copy) plan.flight?.settle();
    ctx.logFields.cache = info.stored || info.detail === 'storing' ? `${plan.fwd}-stored` : plan.fwd;
    if (plan.clientConditional && status === 200 && this.#clientNotModified(res, now)) {
      this.#bodyless = true;
      const h = notModifiedHeaderList({ headers: res });
      h.push('cache-status', cacheStatus(info), 'x-request-id', ctx.id);
      if (extras) for (let i = list.length - extras; i < list.length; i++) h.push(list[i]!);
      return this.next.head(304, h);
    }
    const out: string[] = [];
    for (let i = 0; i < list.length; i += 2) {
      if (!storage.targets.includes(list[i]!)) out.push(list[i]!, list[i + 1]!);
    }
    out.push('cache-status', cacheStatus(info));
    this.next.head(status, out);
  }

  override data(chunk: Buffer): boolean {
    const copy = this.#copy;
    if (copy) {
      copy.size += chunk.length;
      if (copy.size > this.plan.cache.store.maxObjectSize) this.#drop('too-large');
      else copy.chunks.push(chunk);
    }
    if (this.#finished || this.#bodyless) return true;
    return this.next.data(chunk);
  }

  override end(): void {
    const copy = this.#copy;
    this.#copy = undefined;
    if (copy) this.#store(copy);
    this.plan.flight?.settle();
    if (this.#finished) return;
    this.#finished = true;
    this.next.end();
  }

  override abort(err: Error): void {
    this.#drop(this.#copy ? 'truncated' : undefined);
    if (this.#finished) return;
    this.#finished = true;
    this.next.abort(err);
  }

  /** Stops storing; `why` (too-large, truncated) goes to the access log's cache field. */
  #drop(why?: string): void {
    if (why) this.ctx.logFields.cache = `${this.plan.fwd}-not-stored-${why}`;
    this.#copy = undefined;
    this.plan.flight?.settle();
  }

  #decideStore(status: number, res: Record<string, string | string[]>, now: number, storage: StorageOptions,
    info: { stored?: boolean; ttl?: number; detail?: string }): void {
    const { plan, ctx } = this;
    const verdict = isStorable(plan.method, ctx.req.headers, status, res, storage, plan.uri);
    if (!verdict.ok) {
      if (verdict.reason !== 'method') info.detail = verdict.reason; // fwd=method already says it
      // the origin no longer lets us keep what we had
      if (plan.stale && status < 500) plan.cache.store.delete(plan.stale);
      return;
    }
    const cl = firstValue(res['content-length']);
    if (cl !== undefined && Number(cl) > plan.cache.store.maxObjectSize) { info.detail = 'too-large'; return; }
    // a body still under a transfer coding (gzip…) is not the representation: never stored as if it were
    if (res['transfer-encoding'] !== undefined) { info.detail = 'transfer-coded'; return; }
    // The head leaves before the body: `stored` only when the length is known to fit (then only a broken body,
    // which the client sees too, can stop it); else `detail=storing`, and the access log says how it ended.
    if (cl !== undefined) info.stored = true; else info.detail = 'storing';
    const { lifetime } = freshnessLifetime(status, res, verdict.cc, now, storage);
    info.ttl = lifetime - correctedInitialAge(res, plan.requestTime, now);
    const key = `GET ${verdict.storeAs ?? plan.uri}`;
    this.#copy = { key, status, res, strip: verdict.strip, responseTime: now, chunks: [], size: 0 };
  }

  #store(copy: Copy): void {
    if (!isCompleteBody(copy.res, copy.size)) { this.ctx.logFields.cache = `${this.plan.fwd}-not-stored-truncated`; return; }
    // one exact-size copy: chunks are views into larger socket buffers we should not pin
    const body = Buffer.allocUnsafeSlow(copy.size);
    let offset = 0;
    for (const c of copy.chunks) { c.copy(body, offset); offset += c.length; }
    const { plan, ctx } = this;
    const entry = createStoredResponse({
      key: copy.key, status: copy.status, reqHeaders: ctx.req.headers, resHeaders: copy.res, body: copy.size ? [body] : [],
      requestTime: plan.requestTime, responseTime: copy.responseTime, strip: copy.strip,
    }, plan.cache.storage(plan.mode));
    plan.cache.store.insert(entry);
  }

  /** RFC 9111 §4.3.4: the 304 freshens the stored response, which answers the client. */
  #revalidated(stale: StoredResponse, res: Record<string, string | string[]>, now: number, storage: StorageOptions): void {
    const { plan, ctx } = this;
    const f = freshen(stale, { headers: res, requestTime: plan.requestTime, responseTime: now, reqHeaders: ctx.req.headers }, storage);
    if (f.stored) plan.cache.store.insert(f.stored); else plan.cache.store.delete(stale);
    const entry = f.stored ?? stale;
    plan.flight?.settle();
    this.#finished = this.#fromStore = true;
    ctx.logFields.cache = 'revalidated';
    serveStored(ctx, entry, { fwd: plan.fwd, fwdStatus: 304, ttl: ttl(entry, now) }, now,
      { sink: this.next, headerList: f.headerList });
  }

  /** RFC 9111 §4.3.5: a 200 to a HEAD updates the stored GET when it describes the same representation. */
  #headUpdate(stale: StoredResponse, status: number, res: Record<string, string | string[]>, now: number, storage: StorageOptions): void {
    const store = this.plan.cache.store;
    const verdict = headUpdate(stale, status, res);
    if (verdict === 'invalidate') { store.delete(stale); return; }
    if (verdict !== 'update') return;
    const f = freshen(stale, { headers: res, requestTime: this.plan.requestTime, responseTime: now }, storage);
    if (f.stored) store.insert(f.stored); else store.delete(stale);
  }

  #answerStale(stale: StoredResponse, status: number, now: number): void {
    this.plan.flight?.settle();
    this.#finished = this.#fromStore = true;
    this.ctx.logFields.cache = 'stale-if-error';
    serveStored(this.ctx, stale, { fwd: 'stale', fwdStatus: status, ttl: ttl(stale, now), detail: 'stale-if-error' }, now, { sink: this.next });
  }

  /** The client's own conditional, evaluated against the fresh 200 we are about to store. */
  #clientNotModified(res: Record<string, string | string[]>, now: number): boolean {
    const date = parseHttpDate(firstValue(res['date']));
    const lm = parseHttpDate(firstValue(res['last-modified']));
    return evaluateConditional(this.plan.method, this.ctx.req.headers, {
      status: 200, etag: firstValue(res['etag']), responseTime: now, date: date ?? Math.floor(now / 1000),
      ...(lm !== undefined ? { lastModified: lm } : {}),
    }) === 'not-modified';
  }
}

/** A sink that discards everything: the client of a background refresh already has its answer. */
export const NULL_SINK: ResponseSink = {
  head() {}, data: () => true, onDrain() {}, end() {}, abort() {},
};
