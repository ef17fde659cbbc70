import { expect } from 'chai';
import { once } from 'node:events';
import { connect } from 'node:net';
import { cacheRig, status, type CacheRig } from '../helpers/cache-origin.js';
import { ago, send } from '../helpers/http-client.js';

describe('cache: storing, hits and freshness', () => {
  let rig: CacheRig;
  before(async () => { rig = await cacheRig(); });
  after(async () => { await rig.close(); });

  const fixed = (headers: Record<string, string | string[]>, body = 'hello') => (_q: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(200, headers); res.end(body);
  };

  it('stores a fresh response on a miss and answers the next request from the store, with Age and Cache-Status', async () => {
    rig.on('/basic', fixed({ 'cache-control': 'max-age=600', 'x-origin': 'yes', 'content-type': 'text/plain', 'content-length': '6' }, 'body-1'));
    const a = await send(rig.url('/basic'));
    expect(a.status).to.equal(200);
    expect(a.body).to.equal('body-1');
    expect(status(a.headers)).to.match(/^gatehouse; fwd=uri-miss; ttl=\d+; stored$/);
    const b = await send(rig.url('/basic'));
    expect(b.body).to.equal('body-1');
    expect(status(b.headers)).to.match(/^gatehouse; hit; ttl=(59[89]|600)$/);
    expect(b.headers.age).to.match(/^\d+$/);
    expect(b.headers['x-origin']).to.equal('yes');
    expect(b.headers['content-length']).to.equal('6');
    expect(b.headers['x-request-id']).to.be.a('string').and.not.equal(a.headers['x-request-id']);
    expect(rig.seen('/basic')).to.have.length(1);
  });

  it('answers HEAD from a stored GET without a body', async () => {
    rig.on('/head', fixed({ 'cache-control': 'max-age=600' }, 'twelve bytes'));
    await send(rig.url('/head'));
    const h = await send(rig.url('/head'), { method: 'HEAD' });
    expect(h.status).to.equal(200);
    expect(h.body).to.equal('');
    expect(h.headers['content-length']).to.equal('12');
    expect(status(h.headers)).to.match(/hit/);
    expect(rig.seen('/head')).to.have.length(1);
  });

  it('HEAD on a miss goes upstream as HEAD and stores nothing', async () => {
    rig.on('/head-miss', fixed({ 'cache-control': 'max-age=600' }));
    const h = await send(rig.url('/head-miss'), { method: 'HEAD' });
    expect(status(h.headers)).to.match(/fwd=uri-miss/);
    expect(rig.seen('/head-miss')[0]!.method).to.equal('HEAD');
    await send(rig.url('/head-miss'));
    expect(rig.seen('/head-miss')).to.have.length(2);
  });

  for (const [name, headers, reqHeaders, detail] of [
    ['no-store', { 'cache-control': 'max-age=600, no-store' }, {}, 'no-store'],
    ['private', { 'cache-control': 'private, max-age=600' }, {}, 'private'],
    ['Authorization without public', { 'cache-control': 'max-age=600' }, { authorization: 'Bearer x' }, 'authorization'],
    ['Set-Cookie with only heuristic freshness', { 'set-cookie': 'a=b', 'last-modified': ago(86400) }, {}, 'set-cookie'],
    ['request no-store', { 'cache-control': 'max-age=600' }, { 'cache-control': 'no-store' }, undefined],
    ['no freshness and no validator', { 'content-type': 'text/plain' }, {}, 'no-freshness'],
    ['a status that is not heuristically cacheable', { 'last-modified': ago(86400) }, {}, 'no-freshness'],
  ] as const) {
    it(`does not store: ${name}`, async () => {
      const path = `/not-${name.replace(/\W+/g, '-')}`;
      rig.on(path, (_q, res) => { res.writeHead(name.startsWith('a status') ? 302 : 200, { location: '/x', ...headers }); res.end('x'); });
      const a = await send(rig.url(path), { headers: reqHeaders });
      expect(status(a.headers)).to.not.match(/stored/);
      if (detail) expect(status(a.headers)).to.include(`detail=${detail}`);
      await send(rig.url(path), { headers: reqHeaders });
      expect(rig.seen(path)).to.have.length(2);
    });
  }

  it('stores Authorization responses that are public, and Set-Cookie responses with explicit freshness minus the cookie', async () => {
    rig.on('/auth-public', fixed({ 'cache-control': 'public, max-age=600' }));
    await send(rig.url('/auth-public'), { headers: { authorization: 'Bearer x' } });
    expect(status((await send(rig.url('/auth-public'), { headers: { authorization: 'Bearer x' } })).headers)).to.match(/hit/);
    rig.on('/cookie', fixed({ 'cache-control': 'max-age=600', 'set-cookie': 'session=alice' }));
    const first = await send(rig.url('/cookie'));
    expect(first.headers['set-cookie']).to.deep.equal(['session=alice']);
    const second = await send(rig.url('/cookie'));
    expect(status(second.headers)).to.match(/hit/);
    expect(second.headers['set-cookie']).to.equal(undefined);
    expect(rig.seen('/auth-public')).to.have.length(1);
    expect(rig.seen('/cookie')).to.have.length(1);
  });

  it('never stores hop-by-hop or Connection-listed fields', async () => {
    rig.on('/hop', fixed({ 'cache-control': 'max-age=600', connection: 'x-secret', 'x-secret': 'hop', 'x-kept': 'end' }));
    const a = await send(rig.url('/hop'));
    const b = await send(rig.url('/hop'));
    for (const r of [a, b]) {
      expect(r.headers['x-secret']).to.equal(undefined);
      expect(r.headers['x-kept']).to.equal('end');
    }
    expect(status(b.headers)).to.match(/hit/);
  });

  it('obeys CDN-Cache-Control and Gatehouse-Cache-Control over Cache-Control and strips them downstream', async () => {
    rig.on('/cdn', fixed({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=600', 'surrogate-control': 'max-age=5' }));
    const a = await send(rig.url('/cdn'));
    expect(a.headers['cdn-cache-control']).to.equal(undefined);
    expect(a.headers['surrogate-control']).to.equal(undefined);
    expect(a.headers['cache-control']).to.equal('no-store');
    const b = await send(rig.url('/cdn'));
    expect(status(b.headers)).to.match(/hit; ttl=(59[89]|600)/);
    expect(b.headers['cdn-cache-control']).to.equal(undefined);
    rig.on('/gh-cc', fixed({ 'cache-control': 'max-age=600', 'gatehouse-cache-control': 'no-store' }));
    const c = await send(rig.url('/gh-cc'));
    expect(c.headers['gatehouse-cache-control']).to.equal(undefined);
    await send(rig.url('/gh-cc'));
    expect(rig.seen('/cdn')).to.have.length(1);
    expect(rig.seen('/gh-cc')).to.have.length(2);
  });

  it('keeps a variant per normalised Vary value and never serves Vary: *', async () => {
    rig.on('/vary', (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'Accept-Encoding' });
      res.end(`enc=${req.headers['accept-encoding']}`);
    });
    const gz = await send(rig.url('/vary'), { headers: { 'accept-encoding': 'gzip, br' } });
    const id = await send(rig.url('/vary'), { headers: { 'accept-encoding': 'identity' } });
    const gz2 = await send(rig.url('/vary'), { headers: { 'accept-encoding': 'BR,gzip' } });
    const id2 = await send(rig.url('/vary'), { headers: { 'accept-encoding': 'identity' } });
    expect([gz.body, id.body, gz2.body, id2.body]).to.deep.equal(['enc=gzip, br', 'enc=identity', 'enc=gzip, br', 'enc=identity']);
    expect(status(id.headers)).to.match(/fwd=vary-miss/);
    expect(status(gz2.headers)).to.match(/hit/);
    expect(rig.seen('/vary')).to.have.length(2);
    rig.on('/vary-star', fixed({ 'cache-control': 'max-age=600', vary: '*' }));
    await send(rig.url('/vary-star'));
    const s = await send(rig.url('/vary-star'));
    expect(status(s.headers)).to.match(/fwd=uri-miss; detail=vary-star/);
    expect(rig.seen('/vary-star')).to.have.length(2);
  });

  it('uses heuristic freshness from Last-Modified for a 200 without explicit freshness', async () => {
    rig.on('/heuristic', fixed({ 'last-modified': ago(10 * 86400), date: ago(0) }));
    await send(rig.url('/heuristic'));
    const b = await send(rig.url('/heuristic'));
    expect(status(b.headers)).to.match(/hit; ttl=8639\d/); // 10% of 10 days, capped at 24h
    expect(rig.seen('/heuristic')).to.have.length(1);
  });

  it('prefers s-maxage over max-age and honours the upstream Age', async () => {
    rig.on('/smaxage', fixed({ 'cache-control': 'max-age=5, s-maxage=600', age: '100' }));
    await send(rig.url('/smaxage'));
    const b = await send(rig.url('/smaxage'));
    expect(status(b.headers)).to.match(/hit; ttl=(499|500)/);
    expect(Number(b.headers.age)).to.be.within(100, 101);
  });

  it('ignores an invalid Age (RFC 9111 §5.1), uses the first member of a list, and treats a past Expires as stale', async () => {
    rig.on('/bad-age', fixed({ 'cache-control': 'max-age=600', age: '1.5', etag: '"a"' }));
    await send(rig.url('/bad-age'));
    const b = await send(rig.url('/bad-age'));
    expect(status(b.headers)).to.match(/hit/);
    rig.on('/list-age', fixed({ 'cache-control': 'max-age=600', age: '7200, 0', etag: '"l"' }));
    await send(rig.url('/list-age'));
    const l = await send(rig.url('/list-age'));
    expect(status(l.headers)).to.match(/fwd=stale/);
    rig.on('/expired', fixed({ expires: ago(60), date: ago(0), etag: '"e"' }));
    await send(rig.url('/expired'));
    await send(rig.url('/expired'));
    expect(rig.seen('/expired')).to.have.length(2);
    expect(rig.seen('/expired')[1]!.headers['if-none-match']).to.equal('"e"');
  });

  it('answers only-if-cached with 504 when nothing usable is stored, without asking the origin', async () => {
    rig.on('/oic', fixed({ 'cache-control': 'max-age=600' }));
    const a = await send(rig.url('/oic'), { headers: { 'cache-control': 'only-if-cached' } });
    expect(a.status).to.equal(504);
    expect(status(a.headers)).to.include('detail=only-if-cached');
    expect(rig.seen('/oic')).to.have.length(0);
    await send(rig.url('/oic'));
    const c = await send(rig.url('/oic'), { headers: { 'cache-control': 'only-if-cached' } });
    expect(c.status).to.equal(200);
  });

  it('honours request max-age, min-fresh, max-stale, no-cache and Pragma: no-cache', async () => {
    let v = 0;
    rig.on('/req-cc', (_q, res) => { v++; res.writeHead(200, { 'cache-control': 'max-age=100', age: '50' }); res.end(`v${v}`); });
    await send(rig.url('/req-cc'));
    const cases: [Record<string, string>, boolean][] = [
      [{ 'cache-control': 'max-age=10' }, false], // age 50 > 10
      [{ 'cache-control': 'max-age=3600' }, true],
      [{ 'cache-control': 'min-fresh=80' }, false], // 50 left
      [{ 'cache-control': 'min-fresh=10' }, true],
      [{ 'cache-control': 'no-cache' }, false],
      [{ pragma: 'no-cache' }, false],
      [{ 'cache-control': 'NO-CACHE' }, false],
    ];
    for (const [headers, hit] of cases) {
      const before = rig.seen('/req-cc').length;
      const r = await send(rig.url('/req-cc'), { headers });
      expect(rig.seen('/req-cc').length - before, JSON.stringify(headers)).to.equal(hit ? 0 : 1);
      if (!hit) expect(status(r.headers)).to.match(/fwd=request/);
    }
    rig.on('/max-stale', fixed({ 'cache-control': 'max-age=10', date: ago(30) }));
    await send(rig.url('/max-stale'));
    const ms = await send(rig.url('/max-stale'), { headers: { 'cache-control': 'max-stale=60' } });
    expect(status(ms.headers)).to.match(/hit; ttl=-\d+; detail=max-stale/);
    expect(rig.seen('/max-stale')).to.have.length(1);
  });

  it('revalidates a response with no-cache on every use', async () => {
    rig.on('/resp-no-cache', fixed({ 'cache-control': 'no-cache, max-age=600', etag: '"n"' }));
    await send(rig.url('/resp-no-cache'));
    await send(rig.url('/resp-no-cache'));
    expect(rig.seen('/resp-no-cache')).to.have.length(2);
    expect(rig.seen('/resp-no-cache')[1]!.headers['if-none-match']).to.equal('"n"');
  });

  it('answers a client conditional from a fresh entry with 304 and no origin request', async () => {
    rig.on('/cond', fixed({ 'cache-control': 'max-age=600', etag: '"c1"', 'last-modified': ago(3600) }));
    await send(rig.url('/cond'));
    const inm = await send(rig.url('/cond'), { headers: { 'if-none-match': 'W/"c1", "other"' } });
    expect(inm.status).to.equal(304);
    expect(inm.headers.etag).to.equal('"c1"');
    expect(status(inm.headers)).to.match(/hit/);
    const ims = await send(rig.url('/cond'), { headers: { 'if-modified-since': ago(60) } });
    expect(ims.status).to.equal(304);
    const miss = await send(rig.url('/cond'), { headers: { 'if-none-match': '"c2"' } });
    expect(miss.status).to.equal(200);
    expect(rig.seen('/cond')).to.have.length(1);
  });

  it('serves a byte range from a stored response, and never stores a response to a Range request', async () => {
    rig.on('/range', fixed({ 'cache-control': 'max-age=600' }, '0123456789'));
    await send(rig.url('/range'));
    const r = await send(rig.url('/range'), { headers: { range: 'bytes=2-4' } });
    expect(r.status).to.equal(206);
    expect(r.body).to.equal('234');
    expect(r.headers['content-range']).to.equal('bytes 2-4/10');
    const bad = await send(rig.url('/range'), { headers: { range: 'bytes=50-' } });
    expect(bad.status).to.equal(416);
    expect(rig.seen('/range')).to.have.length(1);
    rig.on('/range-miss', (req, res) => {
      if (req.headers.range) { res.writeHead(206, { 'cache-control': 'max-age=600', 'content-range': 'bytes 0-0/10' }); res.end('0'); }
      else { res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end('0123456789'); }
    });
    const p = await send(rig.url('/range-miss'), { headers: { range: 'bytes=0-0' } });
    expect(p.status).to.equal(206);
    expect(rig.seen('/range-miss')[0]!.headers.range).to.equal('bytes=0-0');
    const full = await send(rig.url('/range-miss'));
    expect(full.body).to.equal('0123456789');
    expect(rig.seen('/range-miss')).to.have.length(2);
  });

  it('keys on the effective URI: query strings differ, host case and default port do not', async () => {
    rig.on('/key', (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end(req.url); });
    const port = new URL(rig.proxy.url()).port;
    await send(rig.url('/key?a=1'), { headers: { host: `Example.COM:${port}` } });
    expect((await send(rig.url('/key?a=1'), { headers: { host: `example.com:${port}` } })).headers['cache-status']).to.match(/hit/);
    expect((await send(rig.url('/key?a=2'), { headers: { host: `example.com:${port}` } })).body).to.equal('/key?a=2');
    expect((await send(rig.url('/key?a=1'), { headers: { host: `other.com:${port}` } })).headers['cache-status']).to.match(/miss/);
    expect(rig.seen('/key')).to.have.length(3);
  });
});

describe('cache: more response rules', () => {
  let rig: CacheRig;
  before(async () => { rig = await cacheRig(); });
  after(async () => { await rig.close(); });

  it('stores other statuses only with explicit freshness, and 404 heuristically', async () => {
    rig.on('/s302', (_q, res) => { res.writeHead(302, { location: '/x', 'cache-control': 'max-age=600' }); res.end(); });
    rig.on('/s404', (_q, res) => { res.writeHead(404, { 'last-modified': ago(86400) }); res.end('nf'); });
    for (const p of ['/s302', '/s404']) {
      await send(rig.url(p));
      const b = await send(rig.url(p));
      expect(status(b.headers), p).to.match(/hit/);
      expect(rig.seen(p)).to.have.length(1);
    }
  });

  it('no-cache with field names stores the response without those fields; Pragma: no-cache alone means no-cache', async () => {
    rig.on('/nc-field', (_q, res) => { res.writeHead(200, { 'cache-control': 'max-age=600, no-cache="x-token"', 'x-token': 't', 'x-other': 'o' }); res.end('f'); });
    const a = await send(rig.url('/nc-field'));
    expect(a.headers['x-token']).to.equal('t');
    const b = await send(rig.url('/nc-field'));
    expect(status(b.headers)).to.match(/hit/);
    expect(b.headers['x-token']).to.equal(undefined);
    expect(b.headers['x-other']).to.equal('o');
    rig.on('/pragma', (_q, res) => { res.writeHead(200, { pragma: 'no-cache', etag: '"p"', expires: new Date(Date.now() + 600_000).toUTCString() }); res.end('p'); });
    await send(rig.url('/pragma'));
    await send(rig.url('/pragma'));
    expect(rig.seen('/pragma')).to.have.length(2);
  });

  it('reads malformed max-age conservatively (stale) and proxy-revalidate forbids serving stale', async () => {
    rig.on('/malformed', (_q, res) => { res.writeHead(200, { 'cache-control': 'max-age=abc', etag: '"m"' }); res.end('m'); });
    await send(rig.url('/malformed'));
    await send(rig.url('/malformed'));
    expect(rig.seen('/malformed')).to.have.length(2);
    rig.on('/proxy-reval', (_q, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=1, proxy-revalidate', date: ago(30) }); res.end('old'); return; }
      res.writeHead(503); res.end();
    });
    await send(rig.url('/proxy-reval'));
    expect((await send(rig.url('/proxy-reval'), { headers: { 'cache-control': 'max-stale=600, stale-if-error=600' } })).status).to.equal(503);
  });

  it('a 200 to HEAD with a different validator invalidates the stored GET', async () => {
    rig.on('/head-change', (req, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"one"' }); res.end('one'); return; }
      res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"two"' }); res.end(req.method === 'HEAD' ? undefined : 'two');
    });
    await send(rig.url('/head-change'));
    await send(rig.url('/head-change'), { method: 'HEAD' });
    const g = await send(rig.url('/head-change'));
    expect(g.body).to.equal('two');
    expect(status(g.headers)).to.match(/fwd=uri-miss/);
    expect(rig.seen('/head-change')[2]!.headers['if-none-match']).to.equal(undefined);
  });

  it('bypasses the cache for a request without Host (no effective URI)', async () => {
    rig.on('/nohost', (_q, res) => { res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end('n'); });
    const socket = connect(Number(new URL(rig.proxy.url()).port), '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (d) => { text += d.toString('latin1'); });
    socket.write('GET /nohost HTTP/1.0\r\n\r\n'); // HTTP/1.0: the proxy closes after answering
    await once(socket, 'close');
    expect(text).to.match(/^HTTP\/1\.1 200/);
    expect(text.toLowerCase()).to.include('cache-status: gatehouse; fwd=bypass');
  });
});

describe('cache: routes without cache', () => {
  it('adds no Cache-Status and stores nothing', async () => {
    const rig = await cacheRig({ route: { cache: false } });
    try {
      rig.on('/nc', (_q, res) => { res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end('x'); });
      const a = await send(rig.url('/nc'));
      await send(rig.url('/nc'));
      expect(a.headers['cache-status']).to.equal(undefined);
      expect(rig.seen('/nc')).to.have.length(2);
    } finally { await rig.close(); }
  });
});
