/**
 * The cache stage in forward mode, keyed on the absolute-form URI, in front of a minimal forwarding
 * stage (the real forward listener is built elsewhere; it composes the same stage the same way).
 */
import { expect } from 'chai';
import { request } from 'node:http';
import { listenerInfo } from '../../src/core/context.js';
import pino from 'pino';
import { Pool } from 'undici';
import { cacheStage } from '../../src/cache/cache-stage.js';
import { HttpCache } from '../../src/cache/http-cache.js';
import { buildConfig } from '../../src/config/load.js';
import { errorResponderStage } from '../../src/core/common-stages.js';
import { sendUpstream } from '../../src/core/upstream-request.js';
import { upstreamRequestHeaders } from '../../src/core/headers.js';
import { HttpListener } from '../../src/core/http-listener.js';
import { compose, type Stage } from '../../src/core/pipeline.js';
import { startOrigin } from '../helpers/loopback.js';

function viaProxy(proxyPort: number, target: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port: proxyPort, path: target, headers: { host: new URL(target).host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

describe('cache: forward mode', () => {
  it('keys on the absolute-form URI and answers hits without the origin', async () => {
    const origin = await startOrigin((req, res) => { res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end(`path=${req.url}`); });
    const pools = new Map<string, Pool>();
    const forward: Stage = {
      name: 'forward',
      async handle(ctx) {
        const u = new URL(ctx.req.url!);
        const pool = pools.get(u.origin) ?? new Pool(u.origin);
        pools.set(u.origin, pool);
        const headers = upstreamRequestHeaders(ctx.req.rawHeaders, { via: ctx.listener.via, requestId: ctx.id, set: ctx.setRequestHeaders, remove: ctx.removeRequestHeaders });
        await sendUpstream(ctx, { dispatcher: pool, origin: u.origin }, { method: ctx.req.method!, path: u.pathname + u.search, headers, body: null });
      },
    };
    const cache = new HttpCache({ maxSize: 1 << 20, maxObjectSize: 1 << 16, staleGraceMs: 0 });
    const stage = cacheStage({ cache, mode: 'forward', scheme: 'http', enabled: () => true, waitLimit: () => 1000 });
    const log = pino({ level: 'silent' });
    const listener = new HttpListener({
      listen: '127.0.0.1:0', limits: buildConfig({}, { env: {} }).limits,
      info: listenerInfo({ name: 'forward[0]', mode: 'forward', nodeId: 'gh', log, isTrusted: () => false }),
      pipeline: () => compose([errorResponderStage, stage, forward]),
    });
    await listener.start();
    try {
      const port = listener.address.port;
      const a = await viaProxy(port, `${origin.url}/f?x=1`);
      const b = await viaProxy(port, `${origin.url}/f?x=1`);
      const c = await viaProxy(port, `${origin.url}/f?x=2`);
      expect(a.body).to.equal('path=/f?x=1');
      expect(String(b.headers['cache-status'])).to.match(/^gatehouse; hit/);
      expect(c.body).to.equal('path=/f?x=2');
      expect(origin.seen.map((r) => r.url)).to.deep.equal(['/f?x=1', '/f?x=2']);
      expect(cache.store.lookup(`GET ${origin.url}/f?x=1`, {}).result).to.equal('hit');
    } finally {
      await listener.stop(0);
      await Promise.all([...pools.values()].map((p) => p.close()));
      await origin.close();
    }
  });
});
