/** May a shared cache store this response? (RFC 9111 §3, §3.5; RFC 9110 §9.3.3 for POST.) */
import { requestCacheControl, responseCacheControl, DEFAULT_TARGETS, type CacheControl } from './cache-control.js';
import { normaliseUri } from './cache-key.js';
import { DEFAULT_FRESHNESS, freshnessLifetime, hasExplicitFreshness, HEURISTIC_STATUSES, type FreshnessOptions } from './freshness.js';
import { firstValue, hasHeader, type HeaderMap } from './headers.js';
import { parseVary } from './vary.js';

/**
 * What we do with Set-Cookie in a response we store.
 * - `strip` (default): a response with Set-Cookie is stored only when it has explicit freshness
 *   (max-age, s-maxage, Expires; not merely heuristic), and never with its Set-Cookie/Set-Cookie2
 *   lines: the client whose request fetched it gets the cookie, later clients get the body only.
 *   Handing one client's session cookie to every client is the classic shared-cache leak; RFC 9111
 *   §7.3 notes Set-Cookie does not inhibit caching, so we keep the body cacheable and drop the cookie.
 * - `store`: keep Set-Cookie in the stored response (only for origins known to set shared cookies).
 */
export type SetCookiePolicy = 'strip' | 'store';

export interface StorageOptions extends FreshnessOptions {
  /** Targeted cache-control fields obeyed, most specific first. */
  readonly targets: readonly string[];
  readonly setCookie: SetCookiePolicy;
}

export const DEFAULT_STORAGE: StorageOptions = Object.freeze({ ...DEFAULT_FRESHNESS, targets: DEFAULT_TARGETS, setCookie: 'strip' as const });

export type NotStorableReason =
  | 'method' | 'request-no-store' | 'status' | 'partial' | 'must-understand' | 'no-store' | 'private'
  | 'authorization' | 'vary-star' | 'no-freshness' | 'set-cookie';

export type StoreVerdict =
  | {
    readonly ok: true;
    readonly cc: CacheControl;
    /** Lower-case field names to drop from the stored copy (no-cache/private field lists, Set-Cookie). */
    readonly strip: readonly string[];
    /** The URI to store it under when it differs from the request's (a POST stored for its Content-Location). */
    readonly storeAs?: string;
  }
  | { readonly ok: false; readonly reason: NotStorableReason };

/**
 * Status codes whose caching rules we implement, for must-understand (RFC 9111 §5.2.2.3): the final
 * codes of RFC 9110 except 206 (we don't do ranges) and 304 (not a stored response).
 */
const UNDERSTOOD: ReadonlySet<number> = new Set([
  200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408,
  409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505,
]);

const SET_COOKIE = ['set-cookie', 'set-cookie2'];

/**
 * RFC 9111 §3 for a shared cache: method GET (or POST with explicit freshness and a Content-Location
 * equal to its target), final non-206 status, no `no-store` (request or response; must-understand
 * overrides it for understood codes), no unqualified `private`, no Authorization unless `public`,
 * `s-maxage` or `must-revalidate`, no `Vary: *`, and explicit freshness or a heuristically cacheable
 * status (or `public`). A response that could never be reused (no lifetime, no validator, no
 * stale-while-revalidate/stale-if-error) is not stored either. `targetUri` is needed only for POST.
 */
export function isStorable(reqMethod: string, reqHeaders: HeaderMap, status: number, resHeaders: HeaderMap,
  opts: StorageOptions = DEFAULT_STORAGE, targetUri?: string): StoreVerdict {
  const cc = responseCacheControl(resHeaders, opts.targets);
  const explicit = hasExplicitFreshness(resHeaders, cc);
  let storeAs: string | undefined;
  if (reqMethod === 'POST') {
    storeAs = postStoreUri(resHeaders, explicit, targetUri);
    if (storeAs === undefined) return { ok: false, reason: 'method' };
  } else if (reqMethod !== 'GET') return { ok: false, reason: 'method' };
  if (requestCacheControl(reqHeaders).noStore) return { ok: false, reason: 'request-no-store' };
  if (status === 206) return { ok: false, reason: 'partial' };
  if (status < 200 || status > 599 || status === 304) return { ok: false, reason: 'status' };
  if (cc.mustUnderstand) {
    if (!UNDERSTOOD.has(status)) return { ok: false, reason: 'must-understand' };
  } else if (cc.noStore) return { ok: false, reason: 'no-store' };
  if (cc.private) return { ok: false, reason: 'private' };
  if (hasHeader(reqHeaders, 'authorization') && !cc.public && cc.sMaxage === undefined && !cc.mustRevalidate) {
    return { ok: false, reason: 'authorization' };
  }
  if (parseVary(resHeaders) === '*') return { ok: false, reason: 'vary-star' };
  if (!explicit && !HEURISTIC_STATUSES.has(status) && !cc.public) return { ok: false, reason: 'no-freshness' };
  const { lifetime } = freshnessLifetime(status, resHeaders, cc, Date.now(), opts);
  const reusable = lifetime > 0 || hasHeader(resHeaders, 'etag') || hasHeader(resHeaders, 'last-modified')
    || cc.staleWhileRevalidate !== undefined || cc.staleIfError !== undefined;
  if (!reusable) return { ok: false, reason: 'no-freshness' };
  const strip = [...cc.noCacheFields, ...cc.privateFields];
  if (opts.setCookie === 'strip' && SET_COOKIE.some((n) => hasHeader(resHeaders, n))) {
    if (!explicit) return { ok: false, reason: 'set-cookie' };
    strip.push(...SET_COOKIE);
  }
  return storeAs === undefined ? { ok: true, cc, strip } : { ok: true, cc, strip, storeAs };
}

/** RFC 9110 §9.3.3: a POST response is reusable for GET when it has explicit freshness and Content-Location = target. */
function postStoreUri(resHeaders: HeaderMap, explicit: boolean, targetUri: string | undefined): string | undefined {
  if (!explicit || targetUri === undefined) return undefined;
  const target = normaliseUri(targetUri);
  const cl = firstValue(resHeaders['content-location']);
  if (target === undefined || cl === undefined) return undefined;
  return normaliseUri(cl.trim(), target) === target ? target : undefined;
}

/**
 * False when fewer (or more) body bytes arrived than Content-Length announced: a truncated response
 * is never stored.
 */
export function isCompleteBody(resHeaders: HeaderMap, receivedBytes: number): boolean {
  const cl = firstValue(resHeaders['content-length']);
  if (cl === undefined) return true;
  return /^\d+$/.test(cl.trim()) && Number(cl) === receivedBytes;
}
