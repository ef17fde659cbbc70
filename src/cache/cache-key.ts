/** Primary cache keys and invalidation targets (RFC 9111 §2, §4.4). */
import { firstValue, type HeaderMap } from './headers.js';

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Normalised effective request URI: lower-case scheme and host, default port dropped, empty path as
 * "/", dot-segments removed, percent-encoding normalised (unreserved characters decoded, hex upper-
 * cased; RFC 3986 §6.2.2), fragment dropped. Undefined when the URI does not parse.
 */
export function normaliseUri(uri: string | URL, base?: string | URL): string | undefined {
  let u: URL;
  try { u = new URL(uri, base); } catch { return undefined; }
  u.hash = '';
  const fix = (s: string) => s.replace(/%([0-9a-fA-F]{2})/g, (_m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : `%${hex.toUpperCase()}`;
  });
  if (u.pathname.includes('%')) u.pathname = fix(u.pathname);
  if (u.search.includes('%')) u.search = fix(u.search);
  return u.href;
}

/** The effective URI of a request (RFC 9110 §7.1) from its scheme, Host and request-target. */
export function effectiveUri(scheme: string, host: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return normaliseUri(target); // absolute-form (forward proxy)
  return normaliseUri(`${scheme}://${host}${target.startsWith('/') ? target : `/${target}`}`);
}

/** GET and HEAD share a key: a HEAD is answered from a stored GET response. */
function methodClass(method: string): string {
  return method === 'HEAD' ? 'GET' : method;
}

/** Primary key = method class + normalised effective URI, e.g. `GET http://example.com/a?b=1`. */
export function cacheKey(method: string, uri: string | URL): string | undefined {
  const n = normaliseUri(uri);
  return n === undefined ? undefined : `${methodClass(method)} ${n}`;
}

/** The URI part of a primary key. */
export function keyUri(key: string): string {
  return key.slice(key.indexOf(' ') + 1);
}

const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** RFC 9110 §9.2.1; methods of unknown safety count as unsafe (RFC 9111 §4.4). */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}

/**
 * URIs to invalidate after a response to an unsafe method (RFC 9111 §4.4): only on a non-error
 * (2xx/3xx) status; the target URI, plus Location and Content-Location when they share its origin.
 */
export function invalidationTargets(method: string, status: number, targetUri: string, resHeaders: HeaderMap): string[] {
  if (isSafeMethod(method) || status < 200 || status > 399) return [];
  const target = normaliseUri(targetUri);
  if (target === undefined) return [];
  const origin = new URL(target).origin;
  const out = new Set([target]);
  for (const name of ['location', 'content-location']) {
    const v = firstValue(resHeaders[name]);
    if (!v) continue;
    const u = normaliseUri(v.trim(), target);
    if (u !== undefined && new URL(u).origin === origin) out.add(u);
  }
  return [...out];
}
