/**
 * The stored form of a response, built once at store time so that a hit only writes bytes: filtered
 * headers, a flat header list ready for `res.writeHead`, parsed directives, lifetime and initial age.
 */
import { responseCacheControl, type CacheControl } from './cache-control.js';
import { correctedInitialAge, freshnessLifetime } from './freshness.js';
import { connectionListed, filterStoredHeaders, firstValue, NEVER_STORED, type HeaderMap, type StoredHeaders } from './headers.js';
import { formatHttpDate, parseHttpDate } from './http-date.js';
import { DEFAULT_STORAGE, isStorable, type StorageOptions } from './storability.js';
import { parseVary, varyKey } from './vary.js';

/** Bytes charged per entry on top of body and headers (objects, maps, the LRU's own slots). */
const ENTRY_OVERHEAD = 512;

export interface StoredResponse {
  /** Primary key (`GET <uri>`). */
  readonly key: string;
  readonly status: number;
  readonly statusMessage: string;
  /** Stored fields, lower-case names; no Age, no hop-by-hop or Connection-listed fields, no stripped fields. */
  readonly headers: StoredHeaders;
  /**
   * Flat `[name, value, name, value, ...]` for `res.writeHead(status, list)`: `headers` without the
   * targeted cache-control fields, plus Content-Length (and Date when the origin sent none). The
   * caller appends Age and Cache-Status.
   */
  readonly headerList: readonly string[];
  /** Body chunks as received; written as is on a hit. */
  readonly body: readonly Buffer[];
  readonly bodySize: number;
  /** Clock at the request that produced (or last validated) this response, ms. */
  readonly requestTime: number;
  /** Clock when that response arrived, ms. */
  readonly responseTime: number;
  readonly cc: CacheControl;
  /** Freshness lifetime, seconds. */
  readonly lifetime: number;
  readonly heuristic: boolean;
  /** corrected_initial_age, seconds. */
  readonly initialAge: number;
  /** Selecting field names (sorted, lower-case). */
  readonly vary: readonly string[];
  /** Secondary key computed from the request that produced this response. */
  readonly varyKey: string;
  readonly etag?: string;
  /** Last-Modified, seconds. */
  readonly lastModified?: number;
  /** Date, seconds. */
  readonly date: number;
  /** Bytes charged to the store. */
  readonly size: number;
}

export interface StoreInput {
  readonly key: string;
  readonly status: number;
  readonly statusMessage?: string;
  /** Headers of the request that produced the response (for the Vary secondary key). */
  readonly reqHeaders: HeaderMap;
  readonly resHeaders: HeaderMap;
  readonly body: readonly Buffer[];
  readonly requestTime: number;
  readonly responseTime: number;
  /** Extra field names to drop (from `isStorable(...).strip`). */
  readonly strip?: readonly string[];
}

/** Builds the stored form. Call after `isStorable` said ok (this does not re-check). */
export function createStoredResponse(input: StoreInput, opts: StorageOptions = DEFAULT_STORAGE): StoredResponse {
  const headers = filterStoredHeaders(input.resHeaders, input.strip);
  return build(input.key, input.status, input.statusMessage ?? '', headers, input.resHeaders, input.body,
    input.requestTime, input.responseTime, (names) => varyKey(names, input.reqHeaders), opts);
}

function build(key: string, status: number, statusMessage: string, headers: Record<string, string | readonly string[]>,
  ageSource: HeaderMap, body: readonly Buffer[], requestTime: number, responseTime: number,
  secondary: (names: readonly string[]) => string, opts: StorageOptions): StoredResponse {
  // RFC 9110 §6.6.1: a cache adds Date to a response that arrived without one.
  let date = parseHttpDate(firstValue(headers['date']));
  if (firstValue(headers['date']) === undefined) {
    headers['date'] = formatHttpDate(responseTime);
    date = Math.floor(responseTime / 1000);
  }
  const cc = responseCacheControl(headers, opts.targets);
  const { lifetime, heuristic } = freshnessLifetime(status, headers, cc, responseTime, opts);
  const vary = parseVary(headers);
  const varyNames = vary === '*' ? [] : vary;
  let bodySize = 0;
  for (const c of body) bodySize += c.length;
  const headerList: string[] = [];
  const targets = new Set(opts.targets);
  let headerBytes = 0;
  for (const name of Object.keys(headers)) {
    if (targets.has(name)) continue;
    const v = headers[name]!;
    for (const one of typeof v === 'string' ? [v] : v) { headerList.push(name, one); headerBytes += name.length + one.length; }
  }
  if (headers['content-length'] === undefined && status !== 204 && status !== 304 && status >= 200) {
    headerList.push('content-length', String(bodySize));
  }
  const lm = parseHttpDate(firstValue(headers['last-modified']));
  const etag = firstValue(headers['etag']);
  const entry: StoredResponse = {
    key, status, statusMessage, headers, headerList, body, bodySize, requestTime, responseTime, cc, lifetime, heuristic,
    initialAge: correctedInitialAge({ ...headers, age: ageSource['age'] }, requestTime, responseTime),
    vary: varyNames,
    varyKey: secondary(varyNames),
    date: date ?? Math.floor(responseTime / 1000),
    size: bodySize + 2 * headerBytes + 2 * key.length + ENTRY_OVERHEAD,
    ...(etag !== undefined ? { etag } : {}),
    ...(lm !== undefined ? { lastModified: lm } : {}),
  };
  return entry;
}

/** Never taken from a 304 or HEAD update (RFC 9111 §3.2, §4.3.4): the stored body depends on them. */
const NOT_UPDATED: ReadonlySet<string> = new Set(['content-length', 'content-encoding', 'content-range', 'transfer-encoding']);

export interface Freshened {
  /** The updated stored response, or undefined when the update made it unstorable (e.g. no-store, private). */
  readonly stored: StoredResponse | undefined;
  /** Header list for the response sent now: the updated headers, plus the update's Set-Cookie even when not stored. */
  readonly headerList: readonly string[];
}

export interface FreshenInput {
  readonly headers: HeaderMap;
  readonly requestTime: number;
  readonly responseTime: number;
  /** Headers of the validating request; used for the secondary key only if the update changes Vary. */
  readonly reqHeaders?: HeaderMap;
}

/**
 * Freshens a stored response with the header fields of a 304 (or a matching 200 to HEAD): every
 * field in the update replaces the stored one, except hop-by-hop / Connection-listed / proxy fields
 * and Content-Length, Content-Encoding, Content-Range (RFC 9111 §3.2, §4.3.4). Date, Age and the
 * request/response times of the update restart the age calculation. Check `validatorsMatch` first.
 */
export function freshen(stored: StoredResponse, update: FreshenInput, opts: StorageOptions = DEFAULT_STORAGE): Freshened {
  const merged: Record<string, string | readonly string[]> = { ...stored.headers };
  const listed = connectionListed(update.headers);
  for (const name of Object.keys(update.headers)) {
    const v = update.headers[name];
    const lower = name.toLowerCase();
    if (v === undefined || lower === 'age' || NEVER_STORED.has(lower) || listed.has(lower) || NOT_UPDATED.has(lower)) continue;
    merged[lower] = typeof v === 'string' ? v : [...v];
  }
  if (firstValue(update.headers['date']) === undefined) merged['date'] = formatHttpDate(update.responseTime);
  const secondary = (names: readonly string[]) =>
    names.join() === stored.vary.join() || !update.reqHeaders ? stored.varyKey : varyKey(names, update.reqHeaders);
  const cookies: string[] = [];
  if (opts.setCookie === 'strip') {
    // The cookie goes to the client whose request revalidated, never into the stored copy.
    for (const name of SET_COOKIE) {
      const v = merged[name];
      if (v !== undefined) for (const one of typeof v === 'string' ? [v] : v) cookies.push(name, one);
      delete merged[name];
    }
  }
  const verdict = isStorable('GET', {}, stored.status, merged, opts);
  if (verdict.ok) for (const name of verdict.strip) delete merged[name];
  const next = build(stored.key, stored.status, stored.statusMessage, merged, update.headers, stored.body,
    update.requestTime, update.responseTime, secondary, opts);
  const headerList = cookies.length ? [...next.headerList, ...cookies] : next.headerList;
  return { stored: verdict.ok ? next : undefined, headerList };
}

const SET_COOKIE = ['set-cookie', 'set-cookie2'];
