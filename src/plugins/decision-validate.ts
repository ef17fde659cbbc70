/**
 * Strict checks of what a plugin returned, before the proxy acts on it. A plugin's decision is
 * untrusted input: header names must be RFC 9110 tokens, values free of CR/LF/NUL, framing and
 * hop-by-hop headers stay the proxy's business, statuses in range, bodies bounded, and routes
 * only to configured pools/upstreams. Returns the normalized decision (names lower-cased, numbers
 * stringified, empty parts dropped, "nothing" as null) or a message.
 */
import type {
  DecisionFor, HeaderValue, HookName, RequestDecision, ResponseDecision, RouteDecision, RouteTargets,
} from './plugin-types.js';

const DECISION_LIMITS = {
  maxBodyBytes: 64 * 1024,
  maxHeaders: 64,
  maxHeaderValueBytes: 8 * 1024,
  maxReasonChars: 1024,
  maxPathChars: 8 * 1024,
} as const;

export type Validated<D> = { ok: true; decision: D } | { ok: false; message: string };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Node's own rule for field values (http.validateHeaderValue): HTAB, visible ASCII, obs-text.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
// origin-form request target: visible ASCII only (no space, CR, LF, NUL, fragment).
const ORIGIN_FORM = /^\/[\x21-\x22\x24-\x7e]*$/;
const MANAGED = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'content-length', 'host']);

class Malformed extends Error {}
const fail = (message: string): never => { throw new Malformed(message); };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function onlyKeys(obj: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(`${where}: unknown key "${k}" (allowed: ${allowed.join(', ')})`);
  }
}

function status(v: unknown, min: number, max: number, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(`${where} must be an integer ${min}-${max}, got ${JSON.stringify(v)}`);
  }
  return v as number;
}

function headerName(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || !TOKEN.test(raw)) fail(`${where}: invalid header name ${JSON.stringify(raw)}`);
  const name = (raw as string).toLowerCase();
  if (MANAGED.has(name) || name.startsWith('proxy-')) fail(`${where}: header "${name}" is managed by the proxy`);
  return name;
}

function headerValue(raw: unknown, where: string): string {
  const v = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
  if (typeof v !== 'string') fail(`${where}: header value must be a string, got ${typeof raw}`);
  const s = v as string;
  if (!FIELD_VALUE.test(s)) fail(`${where}: header value contains CR, LF, NUL or another control character`);
  if (s.length > DECISION_LIMITS.maxHeaderValueBytes) fail(`${where}: header value longer than ${DECISION_LIMITS.maxHeaderValueBytes}`);
  return s;
}

function headerMap(raw: unknown, where: string): Record<string, HeaderValue> {
  if (!isPlainObject(raw)) fail(`${where} must be an object of header name to value`);
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > DECISION_LIMITS.maxHeaders) fail(`${where}: more than ${DECISION_LIMITS.maxHeaders} headers`);
  const out: Record<string, HeaderValue> = {};
  for (const [k, v] of entries) {
    const name = headerName(k, where);
    out[name] = Array.isArray(v)
      ? (v.length > DECISION_LIMITS.maxHeaders ? fail(`${where}.${name}: too many values`) : v.map((x) => headerValue(x, `${where}.${name}`)))
      : headerValue(v, `${where}.${name}`);
  }
  return out;
}

function nameList(raw: unknown, where: string): string[] {
  if (!Array.isArray(raw)) fail(`${where} must be an array of header names`);
  const list = raw as unknown[];
  if (list.length > DECISION_LIMITS.maxHeaders) fail(`${where}: more than ${DECISION_LIMITS.maxHeaders} names`);
  return list.map((n) => headerName(n, where));
}

function text(raw: unknown, max: number, where: string): string {
  if (typeof raw !== 'string') fail(`${where} must be a string`);
  const s = raw as string;
  if (s.length > max) fail(`${where} longer than ${max} characters`);
  return s;
}

function requestDecision(raw: Record<string, unknown>): RequestDecision {
  if ('deny' in raw) {
    onlyKeys(raw, ['deny'], 'onRequest');
    const d = raw.deny;
    if (!isPlainObject(d)) fail('deny must be an object { status, reason }');
    const deny = d as Record<string, unknown>;
    onlyKeys(deny, ['status', 'reason'], 'deny');
    const reason = deny.reason === undefined ? '' : text(deny.reason, DECISION_LIMITS.maxReasonChars, 'deny.reason');
    if (!FIELD_VALUE.test(reason)) fail('deny.reason contains CR, LF, NUL or another control character');
    return { deny: { status: status(deny.status, 400, 599, 'deny.status'), reason } };
  }
  if ('respond' in raw) {
    onlyKeys(raw, ['respond'], 'onRequest');
    const r = raw.respond;
    if (!isPlainObject(r)) fail('respond must be an object { status, headers, body }');
    const resp = r as Record<string, unknown>;
    onlyKeys(resp, ['status', 'headers', 'body'], 'respond');
    const code = status(resp.status, 200, 599, 'respond.status');
    const body = resp.body === undefined ? '' : text(resp.body, DECISION_LIMITS.maxBodyBytes, 'respond.body');
    if (Buffer.byteLength(body) > DECISION_LIMITS.maxBodyBytes) fail(`respond.body larger than ${DECISION_LIMITS.maxBodyBytes} bytes`);
    if (body && (code === 204 || code === 304)) fail(`respond.status ${code} cannot have a body`);
    const headers = resp.headers === undefined ? {} : headerMap(resp.headers, 'respond.headers');
    return { respond: { status: code, headers, body } };
  }
  onlyKeys(raw, ['set_headers', 'remove_headers', 'rewrite_path'], 'onRequest');
  const out: Exclude<RequestDecision, null> & Record<string, unknown> = {};
  if (raw.set_headers !== undefined) out.set_headers = headerMap(raw.set_headers, 'set_headers');
  if (raw.remove_headers !== undefined) out.remove_headers = nameList(raw.remove_headers, 'remove_headers');
  if (raw.rewrite_path !== undefined) {
    const p = text(raw.rewrite_path, DECISION_LIMITS.maxPathChars, 'rewrite_path');
    if (!ORIGIN_FORM.test(p)) fail('rewrite_path must start with "/" and contain only visible ASCII (no space, CR, LF, "#")');
    out.rewrite_path = p;
  }
  return Object.keys(out).length === 0 ? null : out;
}

function routeDecision(raw: Record<string, unknown>, targets: RouteTargets | undefined): RouteDecision {
  if (Object.keys(raw).length === 0) return null;
  if ('pool' in raw) {
    onlyKeys(raw, ['pool'], 'route');
    const pool = text(raw.pool, 256, 'pool');
    if (targets ? !targets.hasPool(pool) : pool === '') fail(`route: no configured pool "${pool}"`);
    return { pool };
  }
  onlyKeys(raw, ['upstream'], 'route');
  const url = text(raw.upstream, 2048, 'upstream');
  let parsed: URL | undefined;
  try { parsed = new URL(url); } catch { /* reported below */ }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) fail(`route: upstream ${JSON.stringify(url)} is not an http(s) URL`);
  if (!targets) return { upstream: url };
  const known = targets.findUpstream(url);
  return known ? { upstream: known } : fail(`route: upstream ${url} is not in any configured pool`);
}

function responseDecision(raw: Record<string, unknown>): ResponseDecision {
  onlyKeys(raw, ['set_headers', 'remove_headers', 'status'], 'onResponse');
  const out: Exclude<ResponseDecision, null> = {};
  if (raw.set_headers !== undefined) out.set_headers = headerMap(raw.set_headers, 'set_headers');
  if (raw.remove_headers !== undefined) out.remove_headers = nameList(raw.remove_headers, 'remove_headers');
  if (raw.status !== undefined) out.status = status(raw.status, 200, 599, 'status');
  return Object.keys(out).length === 0 ? null : out;
}

/**
 * Validates a raw (already copied) plugin result for `hook`. `targets` checks route decisions;
 * without it (the test harness with no pools given) any pool name / http(s) URL is accepted.
 */
export function validateDecision<H extends HookName>(hook: H, raw: unknown, targets?: RouteTargets): Validated<DecisionFor[H]> {
  if (raw === undefined || raw === null) return { ok: true, decision: null as DecisionFor[H] };
  if (!isPlainObject(raw)) {
    return { ok: false, message: `${hook} must return an object or nothing, got ${Array.isArray(raw) ? 'an array' : typeof raw}` };
  }
  try {
    const decision = hook === 'onRequest' ? requestDecision(raw)
      : hook === 'route' ? routeDecision(raw, targets)
      : responseDecision(raw);
    return { ok: true, decision: decision as DecisionFor[H] };
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, message: err.message };
    throw err;
  }
}

const normalizeUrl = (u: string): string => { try { return new URL(u).href; } catch { return u; } };

/** A RouteTargets snapshot from `{ pool: [upstream urls] }`; URLs compare after WHATWG normalization. */
export function routeTargetsFrom(pools: Readonly<Record<string, readonly string[]>>): RouteTargets {
  const names = new Set(Object.keys(pools));
  const urls = new Map<string, string>();
  for (const list of Object.values(pools)) for (const u of list) urls.set(normalizeUrl(u), u);
  return { hasPool: (n) => names.has(n), findUpstream: (u) => urls.get(normalizeUrl(u)) };
}
