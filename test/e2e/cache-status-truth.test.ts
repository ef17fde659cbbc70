import { expect } from 'chai';
import { cacheRig, status, type CacheRig } from '../helpers/cache-origin.js';
import { send } from '../helpers/http-client.js';

describe('cache: Cache-Status and the log say what really happened', () => {
  let rig: CacheRig;
  before(async () => { rig = await cacheRig({ top: { cache: { max_object_size: '1KB' } } }); });
  after(async () => { await rig.close(); });

  const cacheLog = (path: string) => rig.proxy.logs.filter((l) => l.path === path && l.msg === 'access').map((l) => l.cache);

  it('claims `stored` only for a body of known length, and logs why an unknown-length one was not stored', async () => {
    rig.on('/known', (_q, res) => { res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '5' }); res.end('small'); });
    rig.on('/chunked-big', (_q, res) => { res.writeHead(200, { 'cache-control': 'max-age=60' }); res.write('x'.repeat(800)); res.end('y'.repeat(800)); });
    expect(status((await send(rig.url('/known'))).headers)).to.match(/; stored$/);
    const big = await send(rig.url('/chunked-big'));
    expect(big.body).to.have.length(1600);
    expect(status(big.headers)).to.not.match(/stored\b/);
    expect(status(big.headers)).to.match(/; detail=storing$/);
    const again = await send(rig.url('/chunked-big'));
    expect(status(again.headers)).to.match(/fwd=uri-miss/);
    expect(rig.seen('/chunked-big')).to.have.length(2);
    expect(cacheLog('/chunked-big')).to.deep.equal(['uri-miss-not-stored-too-large', 'uri-miss-not-stored-too-large']);
  });

  it('logs a truncated body as not stored', async () => {
    rig.on('/cut', (_q, res, n) => {
      if (n > 1) { res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '4' }); res.end('full'); return; }
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': '500' });
      res.write('x'.repeat(100), () => res.destroy());
    });
    await send(rig.url('/cut')).catch(() => undefined);
    const second = await send(rig.url('/cut'));
    expect(second.body).to.equal('full');
    expect(status(second.headers)).to.match(/^gatehouse; fwd=uri-miss; ttl=\d+; stored$/);
    expect(cacheLog('/cut')[0]).to.equal('uri-miss-not-stored-truncated');
  });

  it('clamps age arithmetic at 2^31 (RFC 9111 §1.2.2): a huge Age gives ttl = lifetime - 2^31', async () => {
    rig.on('/old', (_q, res) => { res.writeHead(200, { 'cache-control': 'max-age=60, max-stale', age: '99999999999999999999', 'content-length': '3' }); res.end('old'); });
    const first = await send(rig.url('/old'));
    expect(status(first.headers)).to.equal(`gatehouse; fwd=uri-miss; ttl=${60 - 2 ** 31}; stored`);
    const hit = await send(rig.url('/old'), { headers: { 'cache-control': 'max-stale' } });
    expect(status(hit.headers)).to.equal(`gatehouse; hit; ttl=${60 - 2 ** 31}; detail=max-stale`);
    expect(hit.headers.age).to.equal(String(2 ** 31));
  });
});
