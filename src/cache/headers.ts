/** Header helpers shared by the cache units. Header maps use lower-case names, as node:http and undici give them. */
import { connectionListed as listedInConnection, HOP_BY_HOP } from '../core/headers.js';

export type HeaderValue = string | readonly string[] | undefined;
export type HeaderMap = Readonly<Record<string, HeaderValue>>;
/** A stored header map: lower-case names, no undefined values. */
export type StoredHeaders = Readonly<Record<string, string | readonly string[]>>;

/** The first field line of a header (RFC 9111 §5.1: a cache uses the first Age line; same for other singletons). */
export function firstValue(v: HeaderValue): string | undefined {
  return typeof v === 'string' ? v : v?.[0];
}

/** All field lines combined into one value, as RFC 9110 §5.3 allows for list-based fields. */
export function joinValue(v: HeaderValue): string | undefined {
  if (v === undefined || typeof v === 'string') return v;
  return v.length === 0 ? undefined : v.join(', ');
}

/**
 * Fields a cache never stores (RFC 9111 §3.1): the hop-by-hop fields the proxy never forwards (they
 * include the ones specific to the client's proxy configuration) and Proxy-Authentication-Info.
 * Fields named in Connection are added per response.
 */
export const NEVER_STORED: ReadonlySet<string> = new Set([...HOP_BY_HOP, 'proxy-authentication-info']);

/**
 * Splits a list-based field value on commas that are not inside a quoted-string,
 * trimming optional whitespace and dropping empty members (RFC 9110 §5.6.1).
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) quoted = false;
    } else if (c === 34) quoted = true;
    else if (c === 44 /* , */) {
      const m = value.slice(start, i).trim();
      if (m) out.push(m);
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last) out.push(last);
  return out;
}

/** Lower-case names listed in the Connection field (removed before storing, as before forwarding). */
export function connectionListed(headers: HeaderMap): ReadonlySet<string> {
  return listedInConnection(headers['connection'] as string | string[] | undefined) ?? NONE;
}

const NONE: ReadonlySet<string> = new Set();

/** True when a header is present with at least one field line. */
export function hasHeader(headers: HeaderMap, name: string): boolean {
  const v = headers[name];
  return v !== undefined && (typeof v === 'string' || v.length > 0);
}

/**
 * Copy of a header map without the fields a cache must not store: NEVER_STORED, Connection-listed
 * fields, `age` (regenerated on every hit), and `extra` (e.g. no-cache/private field names).
 */
export function filterStoredHeaders(headers: HeaderMap, extra: Iterable<string> = []): Record<string, string | readonly string[]> {
  const drop = new Set(connectionListed(headers));
  for (const name of extra) drop.add(name.toLowerCase());
  const out: Record<string, string | readonly string[]> = {};
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    if (v === undefined) continue;
    const lower = name.toLowerCase();
    if (lower === 'age' || NEVER_STORED.has(lower) || drop.has(lower)) continue;
    out[lower] = typeof v === 'string' ? v : [...v];
  }
  return out;
}
