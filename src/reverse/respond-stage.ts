/**
 * Answers `respond` routes directly. Runs after the route's plugins, so their filters apply to direct
 * responses too; when a routing plugin gave the request a pool, it is proxied instead.
 */
import type { Stage } from '../core/pipeline.js';
import type { CompiledRoute } from './route-table.js';

export const respondStage: Stage = {
  name: 'respond',
  handle(ctx, next) {
    const r = (ctx.route as CompiledRoute | undefined)?.respond;
    if (!r || ctx.slots.pool !== undefined) return next();
    const headers = [...r.headers, 'content-length', String(r.body.length), 'x-request-id', ctx.id];
    if (ctx.extraResponseHeaders) headers.push(...ctx.extraResponseHeaders);
    ctx.sink.head(r.status, headers);
    if (ctx.req.method !== 'HEAD' && r.body.length) ctx.sink.data(r.body);
    ctx.sink.end();
    return Promise.resolve();
  },
};
