/**
 * The request target and Host of a reverse request, checked before anything else sees them.
 * Reverse listeners take origin-form targets (`/path?q`). An absolute-form target (`http://host/path`,
 * which clients send to proxies) is accepted as RFC 9112 §3.2.2 says a server must: its authority
 * replaces Host, and the path is what is routed and forwarded. Anything else (`*` included) is a 400.
 * Host (RFC 9112 §3.2): exactly one on HTTP/1.1, at most one on 1.0, and a valid host[:port]; else 400.
 * The path is normalised (core/path.ts) here, once: routes, plugins, the cache key and the upstream all
 * see the same path, whichever form the target came in.
 */
import type { RequestContext } from '../core/context.js';
import { ProxyError } from '../core/errors.js';
import { isValidHostHeader } from '../core/host.js';
import { normalisePath, type PathOptions } from '../core/path.js';
import type { Stage } from '../core/pipeline.js';

const BAD_TARGET = 'request target must be a path or an absolute http(s) URL';

/** The one Host value of the request, or the reason it has none usable. */
function checkedHost(raw: readonly string[], httpVersionMinor: number): string | undefined {
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length !== 4 || raw[i]!.toLowerCase() !== 'host') continue;
    if (host !== undefined) throw new ProxyError('bad_request', 'more than one Host header');
    host = raw[i + 1]!;
  }
  if (host === undefined) {
    if (httpVersionMinor >= 1) throw new ProxyError('bad_request', 'missing Host header');
    return undefined;
  }
  if (!isValidHostHeader(host)) throw new ProxyError('bad_request', 'invalid Host header');
  return host;
}

export function requestTargetStage(paths: PathOptions): Stage {
  return {
    name: 'request-target',
    handle(ctx, next) {
      const target = ctx.path;
      const req = ctx.req;
      // undici, which sends requests upstream, cannot send an asterisk-form target: refused here, before
      // anything picks an upstream (a known limit, docs/protocol.md)
      if (target === '*') throw new ProxyError('bad_request', 'the asterisk-form target (OPTIONS *) is not forwarded');
      if (target.charCodeAt(0) === 47 /* / */) {
        checkedHost(req.rawHeaders, req.httpVersionMinor);
        usePath(ctx, normalisePath(target, paths));
        return next();
      }
      let url: URL;
      try { url = new URL(target); } catch { throw new ProxyError('bad_request', BAD_TARGET); }
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.host) throw new ProxyError('bad_request', BAD_TARGET);
      // the URL parser drops userinfo and normalises the host: check the authority as the client wrote it
      const [, authority = '', rest = ''] = /^https?:\/\/([^/?#]*)(.*)$/is.exec(target) ?? [];
      if (!isValidHostHeader(authority)) throw new ProxyError('bad_request', 'invalid authority in the request target');
      usePath(ctx, normalisePath(rest === '' ? '/' : rest[0] === '?' ? `/${rest}` : rest, paths));
      req.headers.host = authority;
      const raw = req.rawHeaders;
      let replaced = false;
      for (let i = 0; i < raw.length; i += 2) {
        if (raw[i]!.toLowerCase() !== 'host') continue;
        if (replaced) { raw.splice(i, 2); i -= 2; } else { raw[i + 1] = authority; replaced = true; }
      }
      if (!replaced) raw.push('Host', authority);
      return next();
    },
  };
}

/** The normalised origin-form path becomes the request's own target, so every later stage reads one path. */
function usePath(ctx: RequestContext, path: string): void {
  if (path !== ctx.req.url) ctx.logFields.target = ctx.req.url;
  ctx.path = path;
  ctx.req.url = path;
}
