/**
 * Conditional requests around a cache (RFC 9110 §8.8.3, §13; RFC 9111 §4.3): validating our stored
 * responses upstream, answering clients' own conditionals, matching 304s and HEADs to stored
 * responses, and single byte ranges served from a stored complete response.
 */
import { firstValue, joinValue, splitList, type HeaderMap } from './headers.js';
import { parseHttpDate } from './http-date.js';
import type { StoredResponse } from './stored-response.js';

export interface EntityTag {
  readonly weak: boolean;
  /** The opaque-tag without quotes. */
  readonly opaque: string;
}

/** Parses `"x"` or `W/"x"`; an unquoted value is read leniently as the opaque tag itself. */
export function parseEntityTag(value: string): EntityTag | undefined {
  let v = value.trim();
  if (!v) return undefined;
  let weak = false;
  if (v.startsWith('W/')) { weak = true; v = v.slice(2); }
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) return { weak, opaque: v.slice(1, -1) };
  if (v.includes('"') || v.includes(',')) return undefined;
  return { weak, opaque: v };
}

/** Strong comparison: both strong and identical (RFC 9110 §8.8.3.2). */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.opaque === b.opaque;
}

/** Weak comparison: identical opaque tags, weakness ignored. */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.opaque === b.opaque;
}

/** The formatted ETag (quoted) of a stored response, or undefined. */
function storedTag(stored: Pick<StoredResponse, 'etag'>): EntityTag | undefined {
  return stored.etag === undefined ? undefined : parseEntityTag(stored.etag);
}

function formatTag(t: EntityTag): string {
  return `${t.weak ? 'W/' : ''}"${t.opaque}"`;
}

/**
 * Precondition fields for validating a stored response upstream (RFC 9111 §4.3.1): If-None-Match
 * from ETag, If-Modified-Since from Last-Modified. Replace the client's own If-None-Match and
 * If-Modified-Since with these, then answer the client's conditionals with `evaluateConditional`.
 */
export function revalidationHeaders(stored: Pick<StoredResponse, 'etag' | 'headers'>): Record<string, string> {
  const out: Record<string, string> = {};
  const tag = storedTag(stored);
  if (tag) out['if-none-match'] = formatTag(tag);
  const lm = firstValue(stored.headers['last-modified']);
  if (lm !== undefined && parseHttpDate(lm) !== undefined) out['if-modified-since'] = lm.trim();
  return out;
}

/** True when a stored response has a validator, i.e. a conditional request can revalidate it. */
export function hasValidator(stored: Pick<StoredResponse, 'etag' | 'lastModified'>): boolean {
  return stored.etag !== undefined || stored.lastModified !== undefined;
}

/**
 * A client's conditional GET/HEAD against the selected stored response (RFC 9111 §4.3.2):
 * If-None-Match (`*` or any weakly matching tag) takes precedence; otherwise If-Modified-Since
 * compares Last-Modified, else Date, else the time received. If-Match and If-Unmodified-Since are
 * for the origin and not evaluated. Only stored 200 responses are evaluated.
 */
export function evaluateConditional(method: string, reqHeaders: HeaderMap,
  stored: Pick<StoredResponse, 'status' | 'etag' | 'lastModified' | 'date' | 'responseTime'>): 'not-modified' | 'full' {
  if ((method !== 'GET' && method !== 'HEAD') || stored.status !== 200) return 'full';
  const inm = joinValue(reqHeaders['if-none-match']);
  if (inm !== undefined) {
    if (inm.trim() === '*') return 'not-modified';
    const mine = storedTag(stored);
    if (!mine) return 'full';
    for (const m of splitList(inm)) {
      const t = parseEntityTag(m);
      if (t && weakMatch(t, mine)) return 'not-modified';
    }
    return 'full';
  }
  const ims = reqHeaders['if-modified-since'];
  // RFC 9110 §13.1.3: ignore an invalid date or a field with more than one member.
  if (ims === undefined || (typeof ims !== 'string' && ims.length !== 1)) return 'full';
  const since = parseHttpDate(firstValue(ims));
  if (since === undefined) return 'full';
  const reference = stored.lastModified ?? stored.date ?? Math.floor(stored.responseTime / 1000);
  return reference <= since ? 'not-modified' : 'full';
}

/** Fields a 304 generated from a stored response carries (RFC 9110 §15.4.5); the caller adds Age and Cache-Status. */
const NOT_MODIFIED_FIELDS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified'];

/** Flat header list for a 304 answered from a stored response. */
export function notModifiedHeaderList(stored: Pick<StoredResponse, 'headers'>): string[] {
  const out: string[] = [];
  for (const name of NOT_MODIFIED_FIELDS) {
    const v = stored.headers[name];
    if (v !== undefined) for (const one of typeof v === 'string' ? [v] : v) out.push(name, one);
  }
  return out;
}

/**
 * Does a 304 (or HEAD) response select this stored response for update (RFC 9111 §4.3.4)? A strong
 * ETag must match strongly; a weak ETag weakly; without an ETag a Last-Modified must be equal. A 304
 * with no validator at all is accepted: we only send validators of the one response we revalidate.
 */
export function validatorsMatch(stored: Pick<StoredResponse, 'etag' | 'lastModified'>, updateHeaders: HeaderMap): boolean {
  const et = firstValue(updateHeaders['etag']);
  if (et !== undefined) {
    const theirs = parseEntityTag(et);
    const mine = storedTag(stored);
    if (!theirs || !mine) return false;
    return theirs.weak ? weakMatch(theirs, mine) : strongMatch(theirs, mine);
  }
  const lm = firstValue(updateHeaders['last-modified']);
  if (lm !== undefined) return parseHttpDate(lm) === stored.lastModified && stored.lastModified !== undefined;
  return true;
}

/**
 * A 200 to a HEAD we sent (RFC 9111 §4.3.5): `update` when the validators it carries and its
 * Content-Length match the stored response (then `freshen` with its headers), else `invalidate`.
 */
export function headUpdate(stored: Pick<StoredResponse, 'etag' | 'lastModified' | 'bodySize'>, status: number,
  headers: HeaderMap): 'update' | 'invalidate' | 'ignore' {
  if (status !== 200) return 'ignore';
  const et = firstValue(headers['etag']);
  if (et !== undefined && (stored.etag === undefined || !sameTag(et, stored.etag))) return 'invalidate';
  const lm = firstValue(headers['last-modified']);
  if (lm !== undefined && parseHttpDate(lm) !== stored.lastModified) return 'invalidate';
  const cl = firstValue(headers['content-length']);
  if (cl !== undefined && Number(cl.trim()) !== stored.bodySize) return 'invalidate';
  return 'update';
}

function sameTag(a: string, b: string): boolean {
  const x = parseEntityTag(a), y = parseEntityTag(b);
  return !!x && !!y && x.weak === y.weak && x.opaque === y.opaque;
}

export interface ByteRange { readonly start: number; readonly end: number }

/**
 * A single byte range of a stored complete 200 (RFC 9110 §14.2): the range to send as 206, 416 as
 * `unsatisfiable`, or undefined to ignore Range and send the whole response (no Range, multiple
 * ranges, other units, a failed If-Range, or a non-GET).
 */
export function evaluateRange(method: string, reqHeaders: HeaderMap,
  stored: Pick<StoredResponse, 'status' | 'etag' | 'headers' | 'bodySize'>): ByteRange | 'unsatisfiable' | undefined {
  const range = firstValue(reqHeaders['range']);
  if (method !== 'GET' || stored.status !== 200 || range === undefined) return undefined;
  const ifRange = firstValue(reqHeaders['if-range']);
  if (ifRange !== undefined && !ifRangeHolds(ifRange.trim(), stored)) return undefined;
  const m = /^bytes=\s*(\d*)-(\d*)\s*$/i.exec(range.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  const size = stored.bodySize;
  if (m[1] === '') { // suffix-range: the last N bytes
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined; // invalid range-spec: ignore the field
  if (start >= size) return 'unsatisfiable';
  const end = m[2] === '' ? size - 1 : Number(m[2]);
  return { start, end: Math.min(end, size - 1) };
}

/** If-Range holds on a strong ETag match or an exactly equal Last-Modified date (RFC 9110 §13.1.5). */
function ifRangeHolds(value: string, stored: Pick<StoredResponse, 'etag' | 'headers'>): boolean {
  if (value.startsWith('"') || value.startsWith('W/')) {
    const t = parseEntityTag(value), mine = storedTag(stored);
    return !!t && !!mine && strongMatch(t, mine);
  }
  const d = parseHttpDate(value);
  return d !== undefined && d === parseHttpDate(firstValue(stored.headers['last-modified']));
}

/** The chunks covering [start, end] of a chunked body, as views (no copy). */
export function sliceBody(body: readonly Buffer[], start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  for (const c of body) {
    const from = Math.max(start - offset, 0), to = Math.min(end + 1 - offset, c.length);
    if (from < to) out.push(c.subarray(from, to));
    offset += c.length;
    if (offset > end) break;
  }
  return out;
}
