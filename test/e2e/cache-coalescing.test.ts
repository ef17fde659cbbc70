import { expect } from 'chai';
import { cacheRig, status, type CacheRig } from '../helpers/cache-origin.js';
import { send, sleep } from '../helpers/http-client.js';

describe('cache: request coalescing', () => {
  let rig: CacheRig;
  before(async () => { rig = await cacheRig({ pool: { response_timeout: '600ms' } }); });
  after(async () => { await rig.close(); });

  it('sends one upstream request for concurrent misses and serves the waiters from the stored result', async () => {
    rig.on('/co', (_q, res) => { setTimeout(() => { res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '6' }); res.end('shared'); }, 150); });
    const replies = await Promise.all(Array.from({ length: 8 }, () => send(rig.url('/co'))));
    expect(replies.map((r) => r.body)).to.deep.equal(Array(8).fill('shared'));
    expect(rig.seen('/co')).to.have.length(1);
    const statuses = replies.map((r) => status(r.headers));
    expect(statuses.filter((s) => s.includes('stored'))).to.have.length(1);
    expect(statuses.filter((s) => /fwd=uri-miss; ttl=\d+; collapsed$/.test(s))).to.have.length(7);
  });

  it('coalesces concurrent revalidations of a stale entry too', async () => {
    rig.on('/co-stale', (_q, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"x"' }); res.end('x'); return; }
      setTimeout(() => { res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"x"' }); res.end(); }, 100);
    });
    await send(rig.url('/co-stale'));
    const replies = await Promise.all(Array.from({ length: 5 }, () => send(rig.url('/co-stale'))));
    expect(replies.map((r) => r.body)).to.deep.equal(Array(5).fill('x'));
    expect(rig.seen('/co-stale')).to.have.length(2);
  });

  it('forwards every waiter itself when the response turns out uncacheable, as soon as its head arrives', async () => {
    rig.on('/co-private', (_q, res) => {
      res.writeHead(200, { 'cache-control': 'private' });
      res.write('part;');
      setTimeout(() => res.end('end'), 200);
    });
    const replies = await Promise.all(Array.from({ length: 4 }, () => send(rig.url('/co-private'))));
    expect(replies.map((r) => r.body)).to.deep.equal(Array(4).fill('part;end'));
    expect(rig.seen('/co-private')).to.have.length(4);
    // waiters were released at the leader's head, not after its 200 ms body
    expect(Math.max(...replies.map((r) => r.ms))).to.be.below(380);
    // those that arrived while the first was in flight waited for it, then went forward themselves
    expect(replies.filter((r) => status(r.headers).includes('collapsed=?0')).length).to.be.within(1, 3);
  });

  it('a waiter never waits longer than the pool response_timeout', async () => {
    rig.on('/co-slow', (_q, res, n) => {
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      if (n > 1) { res.end('second'); return; }
      // the leader's body trickles for ~1.5 s; each gap stays under the 600 ms body timeout
      let i = 0;
      const t = setInterval(() => { res.write('.'); if (++i === 6) { clearInterval(t); res.end('first'); } }, 250);
    });
    const leader = send(rig.url('/co-slow'));
    await sleep(50);
    const waiter = await send(rig.url('/co-slow'));
    expect(waiter.body).to.equal('second');
    expect(waiter.ms).to.be.within(550, 1100);
    expect(status(waiter.headers)).to.include('collapsed=?0');
    expect((await leader).body).to.equal('......first');
    expect(rig.seen('/co-slow')).to.have.length(2);
  });
});
