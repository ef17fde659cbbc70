import { expect } from 'chai';
import type { ServerResponse } from 'node:http';
import { cacheRig, status, type CacheRig } from '../helpers/cache-origin.js';
import { ago, send, sleep } from '../helpers/http-client.js';

/** Waits until `check` holds (background work), at most 15 s (a loaded machine is slow). */
async function until(check: () => boolean): Promise<void> {
  for (const end = Date.now() + 15_000; !check() && Date.now() < end;) await sleep(10);
  expect(check(), 'condition not reached').to.equal(true);
}

describe('cache: revalidation', () => {
  let rig: CacheRig;
  before(async () => { rig = await cacheRig(); });
  after(async () => { await rig.close(); });

  it('revalidates a stale entry with If-None-Match; a 304 freshens it and the client gets the full stored response', async () => {
    rig.on('/etag', (req, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=10', date: ago(60), etag: '"v1"', 'x-version': '1' }); res.end('stored-body'); return; }
      res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"v1"', 'x-version': '2', 'content-length': '999' });
      res.end();
    });
    await send(rig.url('/etag'));
    const b = await send(rig.url('/etag'));
    expect(b.status).to.equal(200);
    expect(b.body).to.equal('stored-body');
    expect(b.headers['x-version']).to.equal('2');
    expect(b.headers['content-length']).to.equal('11'); // never taken from a 304
    expect(status(b.headers)).to.match(/^gatehouse; fwd=stale; fwd-status=304; ttl=(59[89]|600)$/);
    expect(rig.seen('/etag')[1]!.headers['if-none-match']).to.equal('"v1"');
    const c = await send(rig.url('/etag'));
    expect(status(c.headers)).to.match(/hit/);
    expect(c.headers['x-version']).to.equal('2');
    expect(rig.seen('/etag')).to.have.length(2);
  });

  it('revalidates with If-Modified-Since when there is only Last-Modified', async () => {
    const lm = ago(86400);
    rig.on('/lm', (_q, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=0', 'last-modified': lm }); res.end('lm-body'); return; }
      res.writeHead(304, { 'cache-control': 'max-age=0' }); res.end();
    });
    await send(rig.url('/lm'));
    const b = await send(rig.url('/lm'));
    expect(b.body).to.equal('lm-body');
    expect(rig.seen('/lm')[1]!.headers['if-modified-since']).to.equal(lm);
    expect(rig.seen('/lm')[1]!.headers['if-none-match']).to.equal(undefined);
  });

  it("sends our validators instead of the client's and answers the client's conditional from the result", async () => {
    rig.on('/client-cond', (_q, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=1', date: ago(60), etag: '"cur"' }); res.end('cc-body'); return; }
      res.writeHead(304, { 'cache-control': 'max-age=1', date: ago(60), etag: '"cur"' }); res.end();
    });
    await send(rig.url('/client-cond'));
    const match = await send(rig.url('/client-cond'), { headers: { 'if-none-match': '"cur"' } });
    expect(match.status).to.equal(304);
    expect(status(match.headers)).to.include('fwd-status=304');
    const other = await send(rig.url('/client-cond'), { headers: { 'if-none-match': '"old"' } });
    expect(other.status).to.equal(200);
    expect(other.body).to.equal('cc-body');
    for (const seen of rig.seen('/client-cond').slice(1)) expect(seen.headers['if-none-match']).to.equal('"cur"');
  });

  it("on a miss, fetches the full response for the store and still answers the client's If-None-Match with 304", async () => {
    rig.on('/miss-cond', (_q, res) => { res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"m"' }); res.end('full'); });
    const a = await send(rig.url('/miss-cond'), { headers: { 'if-none-match': '"m"' } });
    expect(a.status).to.equal(304);
    expect(rig.seen('/miss-cond')[0]!.headers['if-none-match']).to.equal(undefined);
    const b = await send(rig.url('/miss-cond'));
    expect(b.body).to.equal('full');
    expect(status(b.headers)).to.match(/hit/);
  });

  it('replaces the entry when revalidation returns a new 200, and drops it when the new one is no-store', async () => {
    rig.on('/replace', (_q, res, n) => {
      const cc = n === 3 ? 'no-store' : n === 1 ? 'max-age=0' : 'max-age=600';
      res.writeHead(200, { 'cache-control': cc, etag: `"r${n}"` }); res.end(`r${n}`);
    });
    await send(rig.url('/replace'));
    expect((await send(rig.url('/replace'))).body).to.equal('r2');
    expect((await send(rig.url('/replace'))).body).to.equal('r2'); // hit
    await send(rig.url('/replace'), { headers: { 'cache-control': 'no-cache' } }); // r3: no-store
    expect((await send(rig.url('/replace'))).body).to.equal('r4');
    expect(rig.seen('/replace')).to.have.length(4);
  });

  it('HEAD revalidation: a 304 refreshes the stored GET', async () => {
    rig.on('/head-reval', (req, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"h"' }); res.end('head-body'); return; }
      expect(req.method).to.equal('HEAD');
      res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"h"' }); res.end();
    });
    await send(rig.url('/head-reval'));
    const h = await send(rig.url('/head-reval'), { method: 'HEAD' });
    expect(h.status).to.equal(200);
    expect(h.headers['content-length']).to.equal('9');
    const g = await send(rig.url('/head-reval'));
    expect(g.body).to.equal('head-body');
    expect(status(g.headers)).to.match(/hit/);
    expect(rig.seen('/head-reval')).to.have.length(2);
  });
});

describe('cache: stale serving', () => {
  let rig: CacheRig;
  before(async () => { rig = await cacheRig(); });
  after(async () => { await rig.close(); });

  it('stale-while-revalidate: serves stale at once and refreshes once in the background, never writing to the client', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    rig.on('/swr', (_q, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=1, stale-while-revalidate=600', date: ago(30), etag: '"s1"' }); res.end('old'); return; }
      void gate.then(() => { res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"s2"' }); res.end('new-and-longer'); });
    });
    await send(rig.url('/swr'));
    const replies = await Promise.all([1, 2, 3].map(() => send(rig.url('/swr'))));
    for (const r of replies) {
      expect(r.body).to.equal('old');
      expect(r.headers['content-length']).to.equal('3');
      expect(status(r.headers)).to.match(/hit; ttl=-\d+; detail=stale-while-revalidate/);
    }
    await until(() => rig.seen('/swr').length === 2);
    expect(rig.seen('/swr')[1]!.headers['if-none-match']).to.equal('"s1"');
    release();
    await until(() => rig.proxy.gateway.cache.refreshing.size === 0);
    const fresh = await send(rig.url('/swr'));
    expect(fresh.body).to.equal('new-and-longer');
    expect(status(fresh.headers)).to.match(/^gatehouse; hit/);
    expect(rig.seen('/swr')).to.have.length(2);
  });

  it('stale-if-error: serves the stale entry when revalidation gets a 5xx', async () => {
    rig.on('/sie', (_q, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=1, stale-if-error=600', date: ago(30) }); res.end('good'); return; }
      res.writeHead(503, { 'content-type': 'text/plain' }); res.end('down');
    });
    await send(rig.url('/sie'));
    const b = await send(rig.url('/sie'));
    expect(b.status).to.equal(200);
    expect(b.body).to.equal('good');
    expect(status(b.headers)).to.match(/fwd=stale; fwd-status=503; ttl=-\d+; detail=stale-if-error/);
    expect(rig.seen('/sie')).to.have.length(2);
  });

  it('request stale-if-error also allows it; must-revalidate forbids it', async () => {
    rig.on('/sie-req', (_q, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=1', date: ago(30) }); res.end('good'); return; }
      res.writeHead(500); res.end('boom');
    });
    await send(rig.url('/sie-req'));
    expect((await send(rig.url('/sie-req'))).status).to.equal(500);
    expect((await send(rig.url('/sie-req'), { headers: { 'cache-control': 'stale-if-error=600' } })).body).to.equal('good');
    rig.on('/must', (_q, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=1, must-revalidate, stale-if-error=600', date: ago(30) }); res.end('good'); return; }
      res.writeHead(500); res.end('boom');
    });
    await send(rig.url('/must'));
    expect((await send(rig.url('/must'))).status).to.equal(500);
  });
});

describe('cache: stale on connection failure and grace', () => {
  async function twoPhase(config: Parameters<typeof cacheRig>[0], headers: Record<string, string>) {
    const rig = await cacheRig(config);
    rig.on('/p', (_q, res: ServerResponse) => { res.writeHead(200, headers); res.end('kept'); });
    await send(rig.url('/p'));
    await rig.origin.close(); // the upstream is gone: connection refused
    return rig;
  }

  it('stale-if-error covers a refused connection', async () => {
    const rig = await twoPhase({}, { 'cache-control': 'max-age=1, stale-if-error=600', date: ago(30) });
    try {
      const b = await send(rig.url('/p'));
      expect(b.status).to.equal(200);
      expect(b.body).to.equal('kept');
      expect(status(b.headers)).to.match(/fwd=stale; ttl=-\d+; detail=stale-if-error/);
    } finally { await rig.proxy.close(); }
  });

  it('without stale-if-error the client gets the error, with Cache-Status', async () => {
    const rig = await twoPhase({}, { 'cache-control': 'max-age=1', date: ago(30) });
    try {
      const b = await send(rig.url('/p'));
      expect(b.status).to.equal(502);
      expect(status(b.headers)).to.match(/fwd=stale; detail=connection_refused/);
    } finally { await rig.proxy.close(); }
  });

  it('cache.stale_grace serves stale on connection failure and on 5xx within the grace', async () => {
    const rig = await twoPhase({ top: { cache: { stale_grace: '1h' } } }, { 'cache-control': 'max-age=1', date: ago(30) });
    try {
      const b = await send(rig.url('/p'));
      expect(b.body).to.equal('kept');
      expect(status(b.headers)).to.include('detail=stale-if-error');
    } finally { await rig.proxy.close(); }
    const rig2 = await cacheRig({ top: { cache: { stale_grace: '1h' } } });
    try {
      rig2.on('/g', (_q, res, n) => {
        if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=1', date: ago(30) }); res.end('kept'); return; }
        res.writeHead(502); res.end();
      });
      await send(rig2.url('/g'));
      expect((await send(rig2.url('/g'))).body).to.equal('kept');
    } finally { await rig2.close(); }
  });
});
