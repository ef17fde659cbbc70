/** The PURGE method on a listener: removes every stored variant of the target URI, for allowed clients only. */
import type { RequestContext } from '../core/context.js';
import { ProxyError } from '../core/errors.js';
import type { HttpCache } from './http-cache.js';

/**
 * Answers PURGE: 200 `{"purged": n}` when something was removed, 404 when nothing was stored (as
 * Squid does), 403 for clients outside the ACL. Never forwarded upstream.
 */
export function answerPurge(ctx: RequestContext, cache: HttpCache, uri: string, allowed: (ip: string) => boolean): void {
  ctx.req.resume();
  if (!allowed(ctx.clientIp)) throw new ProxyError('denied', 'PURGE is not allowed from this address');
  const purged = cache.purgeUrl(uri);
  ctx.logFields.cache = 'purge';
  ctx.logFields.purged = purged;
  const body = Buffer.from(`${JSON.stringify({ purged })}\n`);
  ctx.sink.head(purged ? 200 : 404, [
    'content-type', 'application/json', 'content-length', String(body.length), 'cache-control', 'no-store', 'x-request-id', ctx.id,
  ]);
  ctx.sink.data(body);
  ctx.sink.end();
}
