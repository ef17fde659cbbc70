/**
 * What a plugin sees: the request view of a live request (and how a rewrite updates it), and views
 * built from partial fixtures for the test harness and the load-time smoke call. Views are plain
 * data; they cross into the plugin process as JSON. Plugins see the request as the client sent
 * it; an earlier plugin's rewrite updates the view, so later plugins and onResponse see the result.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestContext } from '../core/context.js';
import { normaliseHost as hostName } from '../core/host.js';
import type { HeaderView, RequestView, ResponseView } from './plugin-types.js';

function splitTarget(target: string): [path: string, query: string] {
  const q = target.indexOf('?');
  return q === -1 ? [target, ''] : [target.slice(0, q), target.slice(q + 1)];
}

/** The live request's view. */
export function requestViewOf(ctx: RequestContext): RequestView {
  const req = ctx.req;
  const target = req.url ?? '/';
  const method = req.method ?? 'GET';
  let url: string;
  let host: string;
  let path: string;
  let query: string;
  if (method === 'CONNECT') {
    // A tunnel has no path: the view's path is the authority, as the forward proxy's ACLs see it.
    host = hostName(target);
    path = target;
    query = '';
    url = `https://${target}`;
  } else if (target.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (forward proxy): only here is a URL parse needed
    let parsed: URL | undefined;
    try { parsed = new URL(target); } catch { parsed = undefined; }
    host = parsed ? hostName(parsed.host) : hostName(req.headers.host ?? '');
    path = parsed?.pathname ?? '/';
    query = parsed ? parsed.search.slice(1) : '';
    url = parsed?.href ?? target;
  } else {
    const authority = req.headers.host ?? '';
    host = hostName(authority);
    [path, query] = splitTarget(target);
    url = `${ctx.tls ? 'https' : 'http'}://${authority}${target}`;
  }
  return {
    id: ctx.id,
    mode: ctx.listener.mode,
    method,
    url,
    host,
    path,
    query,
    headers: headerView(req.headers),
    client: { ip: ctx.clientIp, port: req.socket.remotePort ?? 0, user: ctx.slots.user ?? null },
    tls: ctx.tls ? { sni: ctx.tls.sni || null, version: ctx.tls.version, client_cert: ctx.tls.client ?? null } : null,
    protocol: ctx.protocol,
    route: ctx.route?.name ?? null,
    dry_run: ctx.dryRun === true,
  };
}

/** Updates the view after a `rewrite_path` (a path without `?` keeps the current query). Returns the new target. */
export function rewriteViewPath(view: RequestView, rewrite: string): string {
  const [path, query] = rewrite.includes('?') ? splitTarget(rewrite) : [rewrite, view.query];
  const target = query ? `${path}?${query}` : path;
  let origin: string;
  try { origin = new URL(view.url).origin; } catch { origin = ''; }
  view.path = path;
  view.query = query;
  if (origin && origin !== 'null') view.url = origin + target;
  return target;
}

/** Node's headers → plugin header view: lower-case names, repeated values joined (cookies with "; "). */
function headerView(headers: IncomingHttpHeaders): HeaderView {
  const out: HeaderView = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    out[key] = Array.isArray(value) ? value.join(key === 'cookie' ? '; ' : ', ') : String(value);
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
  const cc = isObject(p.tls) && isObject(p.tls.client_cert) ? p.tls.client_cert : undefined;
  const tls = isObject(p.tls) ? {
    sni: typeof p.tls.sni === 'string' ? p.tls.sni : null, version: str(p.tls.version, 'TLSv1.3'),
    client_cert: cc ? { subject: str(cc.subject, ''), fingerprint256: str(cc.fingerprint256, ''), verified: cc.verified === true } : null,
  } : null;
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
    protocol: str(p.protocol, 'HTTP/1.1'),
    route: typeof p.route === 'string' ? p.route : null,
    dry_run: p.dry_run === true,
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
