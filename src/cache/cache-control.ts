/**
 * Cache-Control parsing (RFC 9111 §5.2) and targeted cache-control fields (RFC 9213).
 * Malformed input is read conservatively: an invalid max-age/s-maxage makes the response stale,
 * repeated directives keep the most restrictive value, and unknown directives are ignored.
 */
import { joinValue, splitList, type HeaderMap, type HeaderValue } from './headers.js';
import { parseSfDictionary, type SfItem } from './structured-fields.js';

/** RFC 9111 §1.2.2: delta-seconds beyond what we represent are taken as 2^31. */
export const MAX_DELTA = 2147483648;

/** Directives that matter to a shared cache. Times are in seconds; absent directives are undefined/false. */
export interface CacheControl {
  /** Where the directives came from: 'cache-control', 'pragma', a targeted field name, or '' (none). */
  readonly source: string;
  /** True when `source` is a targeted field: Expires is then ignored (RFC 9213 §2.2). */
  readonly targeted: boolean;
  readonly maxAge?: number;
  readonly sMaxage?: number;
  /** Request only; Infinity when given without a value. */
  readonly maxStale?: number;
  readonly minFresh?: number;
  readonly staleWhileRevalidate?: number;
  readonly staleIfError?: number;
  /** Unqualified no-cache (response: revalidate on every use; request: don't answer from cache unvalidated). */
  readonly noCache: boolean;
  /** Qualified no-cache="a, b": lower-case names a cache must not send without revalidation. */
  readonly noCacheFields: readonly string[];
  /** Unqualified private: a shared cache must not store. */
  readonly private: boolean;
  /** Qualified private="a": names a shared cache must not store. */
  readonly privateFields: readonly string[];
  readonly noStore: boolean;
  readonly public: boolean;
  readonly mustRevalidate: boolean;
  readonly proxyRevalidate: boolean;
  readonly mustUnderstand: boolean;
  readonly immutable: boolean;
  readonly noTransform: boolean;
  readonly onlyIfCached: boolean;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const EMPTY: readonly string[] = Object.freeze([]);
function blank(source: string, targeted = false): Mutable<CacheControl> {
  return {
    source, targeted, noCache: false, noCacheFields: EMPTY, private: false, privateFields: EMPTY,
    noStore: false, public: false, mustRevalidate: false, proxyRevalidate: false, mustUnderstand: false,
    immutable: false, noTransform: false, onlyIfCached: false,
  };
}

/** No directives at all. */
export const NO_DIRECTIVES: CacheControl = Object.freeze(blank(''));

const INVALID = Symbol('invalid');
type RawValue = string | true | typeof INVALID;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DIRECTIVE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)([\s\S]*)$/;

function unquote(v: string): string | typeof INVALID {
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') { if (++i >= v.length) return INVALID; out += v[i]; }
    else if (c === '"') return i === v.length - 1 ? out : INVALID;
    else out += c;
  }
  return INVALID;
}

/** Raw directives, names lower-cased, every occurrence kept in order. */
function rawDirectives(value: string): Map<string, RawValue[]> {
  const out = new Map<string, RawValue[]>();
  for (const member of splitList(value)) {
    const m = DIRECTIVE.exec(member);
    if (!m) continue;
    const rest = m[2]!;
    let v: RawValue;
    if (rest === '') v = true;
    else if (rest[0] !== '=') v = INVALID; // e.g. "max-age =5": whitespace is not allowed around "="
    else {
      const arg = rest.slice(1);
      v = arg.startsWith('"') ? unquote(arg) : TOKEN.test(arg) ? arg : INVALID;
    }
    const name = m[1]!.toLowerCase();
    const list = out.get(name);
    if (list) list.push(v); else out.set(name, [v]);
  }
  return out;
}

/** delta-seconds = 1*DIGIT; anything else (signs, decimals, letters, no value) is invalid. */
function delta(v: RawValue): number | undefined {
  return typeof v === 'string' && /^\d+$/.test(v) ? Math.min(Number(v), MAX_DELTA) : undefined;
}

/**
 * Combines repeated occurrences: any invalid one yields `onInvalid`, otherwise the most
 * restrictive (`pick`) wins (RFC 9111 §4.2.1: first occurrence or stale; we never pick a longer one).
 */
function deltaOf(values: RawValue[] | undefined, onInvalid: number | undefined, pick: (a: number, b: number) => number): number | undefined {
  if (!values) return undefined;
  let out: number | undefined;
  for (const v of values) {
    const d = delta(v);
    if (d === undefined) return onInvalid;
    out = out === undefined ? d : pick(out, d);
  }
  return out;
}

/** Field-name list argument: undefined = unqualified (or unparseable, read as unqualified). */
function fieldNames(values: RawValue[]): { unqualified: boolean; names: string[] } {
  const names: string[] = [];
  for (const v of values) {
    if (typeof v !== 'string') return { unqualified: true, names: [] };
    const list = splitList(v).map((s) => s.toLowerCase()).filter((s) => TOKEN.test(s));
    if (list.length === 0) return { unqualified: true, names: [] };
    names.push(...list);
  }
  return { unqualified: false, names: [...new Set(names)] };
}

/** Parses Cache-Control field lines (RFC 9111 §5.2): case-insensitive names, token or quoted-string arguments. */
export function parseCacheControl(value: HeaderValue, source = 'cache-control'): CacheControl {
  const joined = joinValue(value);
  if (!joined) return NO_DIRECTIVES;
  const raw = rawDirectives(joined);
  const cc = blank(source);
  const min = Math.min, max = Math.max;
  cc.maxAge = deltaOf(raw.get('max-age'), 0, min);
  cc.sMaxage = deltaOf(raw.get('s-maxage'), 0, min);
  // max-stale and the RFC 5861 windows only relax freshness, so an invalid value is dropped.
  const ms = raw.get('max-stale');
  cc.maxStale = ms?.every((v) => v === true) ? Infinity : deltaOf(ms?.filter((v) => v !== true), undefined, min);
  cc.minFresh = deltaOf(raw.get('min-fresh'), undefined, max);
  cc.staleWhileRevalidate = deltaOf(raw.get('stale-while-revalidate'), undefined, min);
  cc.staleIfError = deltaOf(raw.get('stale-if-error'), undefined, min);
  const nc = raw.get('no-cache');
  if (nc) { const f = fieldNames(nc); cc.noCache = f.unqualified; cc.noCacheFields = f.names; }
  const pv = raw.get('private');
  if (pv) { const f = fieldNames(pv); cc.private = f.unqualified; cc.privateFields = f.names; }
  cc.noStore = raw.has('no-store');
  cc.public = raw.has('public');
  cc.mustRevalidate = raw.has('must-revalidate');
  cc.proxyRevalidate = raw.has('proxy-revalidate');
  cc.mustUnderstand = raw.has('must-understand');
  cc.immutable = raw.has('immutable');
  cc.noTransform = raw.has('no-transform');
  cc.onlyIfCached = raw.has('only-if-cached');
  return cc;
}

const SF_DELTAS: Record<string, 'maxAge' | 'sMaxage' | 'staleWhileRevalidate' | 'staleIfError'> = {
  'max-age': 'maxAge', 's-maxage': 'sMaxage', 'stale-while-revalidate': 'staleWhileRevalidate', 'stale-if-error': 'staleIfError',
};
const SF_FLAGS: Record<string, 'noStore' | 'public' | 'mustRevalidate' | 'proxyRevalidate' | 'mustUnderstand' | 'immutable' | 'noTransform'> = {
  'no-store': 'noStore', public: 'public', 'must-revalidate': 'mustRevalidate', 'proxy-revalidate': 'proxyRevalidate',
  'must-understand': 'mustUnderstand', immutable: 'immutable', 'no-transform': 'noTransform',
};

/**
 * Parses a targeted field (RFC 9213) as a Structured Dictionary. Returns undefined when the field is
 * empty, fails to parse, or a known directive has the wrong type (e.g. `max-age="60"`): the field is
 * then ignored and Cache-Control applies.
 */
export function parseTargetedField(value: HeaderValue, name: string): CacheControl | undefined {
  const joined = joinValue(value);
  if (!joined) return undefined;
  const dict = parseSfDictionary(joined);
  if (!dict) return undefined;
  const cc = blank(name, true);
  for (const [key, item] of dict) {
    const d = SF_DELTAS[key];
    const f = SF_FLAGS[key];
    if (d) {
      if (typeof item !== 'number' || !Number.isInteger(item) || item < 0) return undefined;
      cc[d] = Math.min(item, MAX_DELTA);
    } else if (f) {
      if (typeof item !== 'boolean') return undefined;
      cc[f] = item;
    } else if (key === 'no-cache' || key === 'private') {
      const fields = sfFieldList(item);
      if (fields === undefined) return undefined;
      if (key === 'no-cache') { cc.noCache = fields === true; cc.noCacheFields = fields === true ? EMPTY : fields; }
      else { cc.private = fields === true; cc.privateFields = fields === true ? EMPTY : fields; }
    }
  }
  return cc;
}

function sfFieldList(item: SfItem): true | string[] | undefined {
  if (item === true) return true;
  if (item === false) return [];
  if (typeof item !== 'string') return undefined;
  const names = splitList(item).map((s) => s.toLowerCase());
  return names.length ? names : true;
}

/** Targeted fields this cache obeys, most specific first. None of them is forwarded downstream. */
export const DEFAULT_TARGETS: readonly string[] = Object.freeze(['gatehouse-cache-control', 'cdn-cache-control', 'surrogate-control']);

/**
 * The directives that govern storing and reusing a response: the first valid, non-empty targeted
 * field in `targets` order, else Cache-Control, else `Pragma: no-cache` (read as no-cache).
 */
export function responseCacheControl(headers: HeaderMap, targets: readonly string[] = DEFAULT_TARGETS): CacheControl {
  for (const name of targets) {
    const v = headers[name];
    if (v === undefined) continue;
    const cc = parseTargetedField(v, name);
    if (cc) return cc;
  }
  return ccOrPragma(headers);
}

/** Request directives: Cache-Control, or `Pragma: no-cache` when there is no Cache-Control (RFC 9111 §5.4). */
export function requestCacheControl(headers: HeaderMap): CacheControl {
  return ccOrPragma(headers);
}

function ccOrPragma(headers: HeaderMap): CacheControl {
  const v = headers['cache-control'];
  if (joinValue(v)) return parseCacheControl(v);
  const pragma = joinValue(headers['pragma']);
  if (pragma && splitList(pragma).some((p) => p.toLowerCase() === 'no-cache')) {
    const cc = blank('pragma');
    cc.noCache = true;
    return cc;
  }
  return NO_DIRECTIVES;
}

