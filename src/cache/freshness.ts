/** Freshness lifetime, age and the reuse decision (RFC 9111 §4.2, RFC 5861). Times: ms for clocks, s for ages. */
import { MAX_DELTA, type CacheControl } from './cache-control.js';
import { firstValue, hasHeader, type HeaderMap } from './headers.js';
import { parseHttpDate } from './http-date.js';

/** Tunables of the freshness model. */
export interface FreshnessOptions {
  /** Fraction of (Date - Last-Modified) used as heuristic lifetime. Default 0.1 (RFC 9111 §4.2.2). */
  readonly heuristicFraction: number;
  /** Upper bound of a heuristic lifetime, seconds. Default 86400 (24h). */
  readonly heuristicMaxSeconds: number;
  /**
   * Grace, seconds: how long past expiry a stored response may be served when the upstream cannot be
   * reached (connection refused/reset, timeout), if the response allows stale use and sets no
   * stale-if-error of its own. Default 0 (off). Never applies to an upstream 5xx answer.
   */
  readonly graceSeconds: number;
}

export const DEFAULT_FRESHNESS: FreshnessOptions = Object.freeze({ heuristicFraction: 0.1, heuristicMaxSeconds: 86400, graceSeconds: 0 });

/** Status codes heuristically cacheable (RFC 9110 §15.1); 206 is left out: we don't store partial content. */
export const HEURISTIC_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]);

/** True when the response carries an explicit expiration time (s-maxage, max-age, or Expires unless targeted). */
export function hasExplicitFreshness(headers: HeaderMap, cc: CacheControl): boolean {
  return cc.sMaxage !== undefined || cc.maxAge !== undefined || (!cc.targeted && hasHeader(headers, 'expires'));
}

/** The Date of a response in seconds, or the response time when Date is missing or invalid (RFC 9110 §6.6.1). */
function dateValue(headers: HeaderMap, responseTimeMs: number): number {
  return parseHttpDate(firstValue(headers['date'])) ?? Math.floor(responseTimeMs / 1000);
}

export interface Lifetime {
  /** Freshness lifetime in seconds, >= 0. */
  readonly lifetime: number;
  /** True when no explicit expiration time was present and a heuristic (or 0) was used. */
  readonly heuristic: boolean;
}

/**
 * RFC 9111 §4.2.1: s-maxage (shared cache), then max-age, then Expires - Date (an invalid Expires is
 * already expired). Without any, §4.2.2 heuristics: a fraction of the time since Last-Modified, only
 * for heuristically cacheable statuses or `public` responses, capped.
 */
export function freshnessLifetime(status: number, headers: HeaderMap, cc: CacheControl, responseTimeMs: number,
  opts: FreshnessOptions = DEFAULT_FRESHNESS): Lifetime {
  if (cc.sMaxage !== undefined) return { lifetime: cc.sMaxage, heuristic: false };
  if (cc.maxAge !== undefined) return { lifetime: cc.maxAge, heuristic: false };
  if (!cc.targeted && hasHeader(headers, 'expires')) {
    const expires = parseHttpDate(firstValue(headers['expires']));
    if (expires === undefined) return { lifetime: 0, heuristic: false };
    return { lifetime: Math.max(0, expires - dateValue(headers, responseTimeMs)), heuristic: false };
  }
  if (!HEURISTIC_STATUSES.has(status) && !cc.public) return { lifetime: 0, heuristic: true };
  const lm = parseHttpDate(firstValue(headers['last-modified']));
  if (lm === undefined) return { lifetime: 0, heuristic: true };
  const since = dateValue(headers, responseTimeMs) - lm;
  return { lifetime: Math.max(0, Math.min(since * opts.heuristicFraction, opts.heuristicMaxSeconds)), heuristic: true };
}

/**
 * age_value (RFC 9111 §5.1): the first member of the first line (a list-valued Age SHOULD use the first
 * member); a value that is then not a non-negative integer (sign, decimal, text) SHOULD be ignored, i.e. 0.
 */
export function ageValue(headers: HeaderMap): number {
  const v = firstValue(headers['age']);
  if (v === undefined) return 0;
  const t = v.split(',')[0]!.trim();
  return /^\d+$/.test(t) ? Math.min(Number(t), MAX_DELTA) : 0;
}

/** corrected_initial_age (RFC 9111 §4.2.3), seconds. */
export function correctedInitialAge(headers: HeaderMap, requestTimeMs: number, responseTimeMs: number): number {
  const apparent = Math.max(0, responseTimeMs / 1000 - dateValue(headers, responseTimeMs));
  const correctedAgeValue = ageValue(headers) + Math.max(0, responseTimeMs - requestTimeMs) / 1000;
  // RFC 9111 §1.2.2: a calculation that overflows is taken as 2^31
  return Math.min(Math.max(apparent, correctedAgeValue), MAX_DELTA);
}

/** What the reuse decision needs of a stored response. */
export interface FreshnessState {
  readonly cc: CacheControl;
  /** Freshness lifetime, seconds. */
  readonly lifetime: number;
  /** corrected_initial_age, seconds. */
  readonly initialAge: number;
  /** When the response (or its last validation) was received, ms. */
  readonly responseTime: number;
}

/** current_age = corrected_initial_age + resident_time, seconds. */
export function currentAge(s: FreshnessState, nowMs: number): number {
  return Math.min(s.initialAge + Math.max(0, nowMs - s.responseTime) / 1000, MAX_DELTA);
}

/** Remaining freshness in seconds (negative when stale). */
export function ttl(s: FreshnessState, nowMs: number): number {
  return s.lifetime - currentAge(s, nowMs);
}

/** response_is_fresh = freshness_lifetime > current_age. */
export function isFresh(s: FreshnessState, nowMs: number): boolean {
  return s.lifetime > currentAge(s, nowMs);
}

/** A shared cache must not serve this response stale (RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.10). */
function staleForbidden(cc: CacheControl): boolean {
  return cc.noCache || cc.mustRevalidate || cc.proxyRevalidate || cc.sMaxage !== undefined;
}

export type Reuse =
  /** Serve the stored response as is (fresh, or stale within the client's max-stale). */
  | { readonly action: 'use'; readonly age: number; readonly ttl: number; readonly stale: boolean }
  /** Serve it now and refresh it once in the background (RFC 5861 stale-while-revalidate). */
  | { readonly action: 'use-and-revalidate'; readonly age: number; readonly ttl: number }
  /**
   * Forward (conditionally when validators exist). `fwd` is the RFC 9211 reason: `stale`, or `request`
   * when a fresh response was refused by the request's directives.
   */
  | { readonly action: 'revalidate'; readonly fwd: 'stale' | 'request'; readonly age: number; readonly ttl: number; readonly detail?: string };

/**
 * May a stored response answer this request without contacting the origin? RFC 9111 §4 and §4.2,
 * honouring request max-age, min-fresh, max-stale, no-cache; response no-cache, must-revalidate,
 * proxy-revalidate and s-maxage (which forbid stale use); RFC 5861 stale-while-revalidate.
 * only-if-cached is the caller's: answer 504 when the action is `revalidate`.
 */
export function evaluateReuse(s: FreshnessState, req: CacheControl, nowMs: number): Reuse {
  const age = currentAge(s, nowMs);
  const left = s.lifetime - age;
  const fresh = left > 0;
  if (s.cc.noCache) return { action: 'revalidate', fwd: 'stale', age, ttl: left, detail: 'no-cache' };
  if (req.noCache) return { action: 'revalidate', fwd: fresh ? 'request' : 'stale', age, ttl: left };
  const ageOk = req.maxAge === undefined || age <= req.maxAge;
  if (fresh) {
    const ok = ageOk && (req.minFresh === undefined || left >= req.minFresh);
    return ok ? { action: 'use', age, ttl: left, stale: false } : { action: 'revalidate', fwd: 'request', age, ttl: left };
  }
  if (staleForbidden(s.cc)) return { action: 'revalidate', fwd: 'stale', age, ttl: left };
  const staleness = -left;
  if (req.maxStale !== undefined && staleness <= req.maxStale && ageOk && req.minFresh === undefined) {
    return { action: 'use', age, ttl: left, stale: true };
  }
  // A client that sets max-age or min-fresh has said it does not want a stale answer.
  const swr = s.cc.staleWhileRevalidate;
  if (swr !== undefined && staleness <= swr && req.maxAge === undefined && req.minFresh === undefined) {
    return { action: 'use-and-revalidate', age, ttl: left };
  }
  return { action: 'revalidate', fwd: 'stale', age, ttl: left };
}

/** Why the upstream could not give a usable answer: a network failure, or the 5xx status it sent. */
export type UpstreamFailure = 'network' | number;

/**
 * May a stored response be served because the upstream failed (RFC 5861 stale-if-error, request or
 * response; RFC 9111 §4.2.4 "disconnected")? Never when stale use is forbidden (must-revalidate etc.).
 * stale-if-error covers 500, 502, 503, 504 and network failures; the configured grace only covers
 * network failures and only when the response set no stale-if-error limit of its own.
 */
export function canServeStaleOnError(s: FreshnessState, req: CacheControl, nowMs: number, failure: UpstreamFailure,
  opts: FreshnessOptions = DEFAULT_FRESHNESS): boolean {
  if (staleForbidden(s.cc)) return false;
  if (typeof failure === 'number' && failure !== 500 && failure !== 502 && failure !== 503 && failure !== 504) return false;
  const staleness = currentAge(s, nowMs) - s.lifetime;
  const resSie = s.cc.staleIfError;
  const window = Math.max(resSie ?? -1, req.staleIfError ?? -1);
  if (window >= 0 && staleness <= window) return true;
  return failure === 'network' && resSie === undefined && staleness <= opts.graceSeconds;
}
