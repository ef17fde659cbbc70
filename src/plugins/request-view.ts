/**
 * Builds the plain views plugins receive: from Node's parsed headers (for the pipeline) and from
 * partial fixtures (for the test harness and the reload smoke call), filling sane defaults.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { HeaderView, RequestView, ResponseView } from './plugin-types.js';

/** One request header's value as plugins see it: repeated values joined (cookies with "; "). `name` is lower-case. */
export function headerValue(name: string, value: string | string[]): string {
  return Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : String(value);
}

/** Node's headers → plugin header view: lower-case names, repeated values joined (cookie with "; "). */
export function headerView(headers: IncomingHttpHeaders): HeaderView {
  const out: HeaderView = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    out[key] = headerValue(key, value);
  }
  return out;
}

/** Response headers → plugin view; `set-cookie` stays an array because its values cannot be joined. */
export function responseHeaderView(headers: OutgoingHttpHeaders | IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    if (key === 'set-cookie') out[key] = Array.isArray(value) ? value.map(String) : [String(value)];
    else out[key] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, d: string): string => (typeof v === 'string' ? v : d);

/**
 * A full RequestView from a partial one. `url` and `path`/`query`/`host` fill each other in, so a
 * fixture may give just `{ "path": "/admin" }` or just `{ "url": "http://a.test/x?y=1" }`.
 */
export function requestViewFrom(partial: unknown = {}): RequestView {
  const p = isObject(partial) ? partial : {};
  const headers: HeaderView = {};
  if (isObject(p.headers)) {
    for (const [k, v] of Object.entries(p.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  let parsed: URL | undefined;
  try { parsed = typeof p.url === 'string' ? new URL(p.url) : undefined; } catch { parsed = undefined; }
  const host = str(p.host, parsed?.hostname ?? headers.host?.replace(/:\d+$/, '') ?? 'example.test');
  const path = str(p.path, parsed?.pathname ?? '/');
  const query = str(p.query, parsed ? parsed.search.replace(/^\?/, '') : '');
  headers.host ??= host;
  const client = isObject(p.client) ? p.client : {};
  const tls = isObject(p.tls) ? { sni: typeof p.tls.sni === 'string' ? p.tls.sni : null, version: str(p.tls.version, 'TLSv1.3') } : null;
  return {
    id: str(p.id, 'test-request'),
    mode: p.mode === 'forward' ? 'forward' : 'reverse',
    method: str(p.method, 'GET').toUpperCase(),
    url: str(p.url, `${tls ? 'https' : 'http'}://${host}${path}${query ? `?${query}` : ''}`),
    host,
    path,
    query,
    headers,
    client: {
      ip: str(client.ip, '127.0.0.1'),
      port: typeof client.port === 'number' ? client.port : 40000,
      user: typeof client.user === 'string' ? client.user : null,
    },
    tls,
    route: typeof p.route === 'string' ? p.route : null,
  };
}

/** A full ResponseView from a partial one (default 200, no headers). */
export function responseViewFrom(partial: unknown = {}): ResponseView {
  const p = isObject(partial) ? partial : {};
  const headers: Record<string, string | string[]> = {};
  if (isObject(p.headers)) {
    for (const [k, v] of Object.entries(p.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.map(String) : String(v);
  }
  return { status: typeof p.status === 'number' ? p.status : 200, headers };
}

/** The synthetic request of the load/reload smoke call. Plugins can recognise it by its id. */
export const SMOKE_REQUEST: RequestView = requestViewFrom({
  id: 'gatehouse-smoke', url: 'http://smoke.invalid/', client: { ip: '192.0.2.1', port: 1 },
  headers: { 'user-agent': 'gatehouse-smoke' },
});
export const SMOKE_RESPONSE: ResponseView = responseViewFrom({ status: 200, headers: { 'content-type': 'text/plain' } });
