/**
 * Reverse listeners take origin-form targets (`/path?q`). An absolute-form target (`http://host/path`,
 * which clients send to proxies) is accepted as RFC 9112 §3.2.2 says a server must: its authority
 * replaces Host, and the path is what is routed and forwarded. Anything else (`*` aside) is a 400.
 */
import { ProxyError } from '../core/errors.js';
import type { Stage } from '../core/pipeline.js';

export const requestTargetStage: Stage = {
  name: 'request-target',
  handle(ctx, next) {
    const target = ctx.path;
    if (target.charCodeAt(0) === 47 /* / */ || (target === '*' && ctx.req.method === 'OPTIONS')) return next();
    let url: URL;
    try { url = new URL(target); } catch { throw new ProxyError('bad_request', 'request target must be a path or an absolute http(s) URL'); }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.host) {
      throw new ProxyError('bad_request', 'request target must be a path or an absolute http(s) URL');
    }
    ctx.path = `${url.pathname}${url.search}`;
    const req = ctx.req;
    req.headers.host = url.host;
    const raw = req.rawHeaders;
    let replaced = false;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'host') { raw[i + 1] = url.host; replaced = true; }
    if (!replaced) raw.push('Host', url.host);
    return next();
  },
};
