/**
 * `GET /proxy.pac` on a forward listener: the PAC file built from the config (`pac.internal_domains`
 * DIRECT, everything else `PROXY pac.proxy`, or this listener's address). It is the one
 * origin-form request a forward listener answers; no authentication, as browsers fetch it before
 * they know any proxy credentials.
 */
import type { Stage } from '../core/pipeline.js';
import { tunnelOf } from './absolute-form.js';
import { buildPac, PAC_CONTENT_TYPE } from './pac.js';

export function pacStage(internal: readonly string[], proxy: () => string): Stage {
  let cached: { proxy: string; body: Buffer } | undefined;
  return {
    name: 'pac',
    handle(ctx, next) {
      const req = ctx.req;
      if (req.url !== '/proxy.pac' || (req.method !== 'GET' && req.method !== 'HEAD') || tunnelOf(ctx)) return next();
      const p = proxy();
      if (cached?.proxy !== p) {
        const built = buildPac({ proxy: p, direct: internal });
        // the config was checked with the same builder; an invalid listen address is the only way here
        if (built.errors) throw new Error(built.errors.join('; '));
        cached = { proxy: p, body: Buffer.from(built.script) };
      }
      ctx.logFields.pac = true;
      ctx.sink.head(200, ['content-type', PAC_CONTENT_TYPE, 'content-length', String(cached.body.length), 'cache-control', 'max-age=300', 'x-request-id', ctx.id]);
      if (req.method === 'GET') ctx.sink.data(cached.body);
      ctx.sink.end();
      return Promise.resolve();
    },
  };
}
