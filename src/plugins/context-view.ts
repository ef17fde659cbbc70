/**
 * What plugins see of a live request: its wire encoding for every call, and the RequestView
 * object only once a rewrite needs one to update. Plugins see the request as the client sent it;
 * an earlier plugin's rewrite updates the view in place so later plugins (and onResponse) see
 * the rewritten request.
 */
import type { RequestContext } from '../core/context.js';
import type { RequestView } from './plugin-types.js';
import { encodeRequest, type RequestFields } from './request-wire.js';
import { headerView } from './request-view.js';
import { normaliseHost as hostName } from '../core/host.js';

function splitTarget(target: string): [path: string, query: string] {
  const q = target.indexOf('?');
  return q === -1 ? [target, ''] : [target.slice(0, q), target.slice(q + 1)];
}

/** The live request's view. */
export function requestViewOf(ctx: RequestContext): RequestView {
  const f = requestFieldsOf(ctx);
  return { id: f.id, mode: f.mode, method: f.method, url: f.url, host: f.host, path: f.path, query: f.query,
    headers: headerView(ctx.req.headers), client: f.client, tls: f.tls, route: f.route };
}

/** The live request encoded for plugin calls, without building the view object. */
export function requestWireOf(ctx: RequestContext): string {
  return encodeRequest(requestFieldsOf(ctx), ctx.req.headers, true);
}

function requestFieldsOf(ctx: RequestContext): RequestFields {
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
    client: { ip: ctx.clientIp, port: req.socket.remotePort ?? 0, user: ctx.user ?? null },
    tls: ctx.tls ? { sni: ctx.tls.sni || null, version: ctx.tls.version } : null,
    route: ctx.route?.name ?? null,
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
