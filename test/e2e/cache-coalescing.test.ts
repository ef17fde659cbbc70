import { expect } from 'chai';
import { cacheRig, status, type CacheRig } from '../helpers/cache-origin.js';
import type { ServerResponse } from 'node:http';
import { send } from '../helpers/http-client.js';
import { waitFor } from '../helpers/load.js';

describe('cache: request coalescing', function () {
  this.timeout(30_000);
  // The origin holds its answers until the test has seen the requests line up at the proxy, so what is
  // checked never depends on how fast a loaded machine is. The timeout is long for the same reason.
  let rig: CacheRig;
  before(async () => { rig = await cacheRig({ pool: { response_timeout: '20s' } }); });
  after(async () => { await rig.close(); });
  const waiting = () => rig.proxy.gateway.cache.coalescer.waiting;
  const until = async (what: string, check: () => boolean) => expect(await waitFor(check, 20_000), what).to.equal(true);

  it('sends one upstream request for concurrent misses and serves the waiters from the stored result', async () => {
    const held: (() => void)[] = [];
    rig.on('/co', (_q, res) => { held.push(() => { res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '6' }); res.end('shared'); }); });
    const replies = Promise.all(Array.from({ length: 8 }, () => send(rig.url('/co'))));
    await until('one request at the origin, seven waiting at the proxy', () => held.length === 1 && waiting() === 7);
    held[0]!();
    const all = await replies;
    expect(all.map((r) => r.body)).to.deep.equal(Array(8).fill('shared'));
    expect(rig.seen('/co')).to.have.length(1);
    const statuses = all.map((r) => status(r.headers));
    expect(statuses.filter((s) => s.includes('stored'))).to.have.length(1);
    expect(statuses.filter((s) => /fwd=uri-miss; ttl=\d+; collapsed$/.test(s))).to.have.length(7);
  });

  it('coalesces concurrent revalidations of a stale entry too', async () => {
    const held: (() => void)[] = [];
    rig.on('/co-stale', (_q, res, n) => {
      if (n === 1) { res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"x"' }); res.end('x'); return; }
      held.push(() => { res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"x"' }); res.end(); });
    });
    await send(rig.url('/co-stale'));
    const replies = Promise.all(Array.from({ length: 5 }, () => send(rig.url('/co-stale'))));
    await until('one revalidation at the origin, four waiting', () => held.length === 1 && waiting() === 4);
    held[0]!();
    expect((await replies).map((r) => r.body)).to.deep.equal(Array(5).fill('x'));
    expect(rig.seen('/co-stale')).to.have.length(2);
  });

  it('forwards every waiter itself when the response turns out uncacheable, as soon as its head arrives', async () => {
    const bodies: ServerResponse[] = [];
    let leaderHead: () => void = () => {};
    rig.on('/co-private', (_q, res, n) => {
      const head = () => { res.writeHead(200, { 'cache-control': 'private' }); res.write('part;'); bodies.push(res); };
      if (n === 1) leaderHead = head; else head();
    });
    const replies = Promise.all(Array.from({ length: 4 }, () => send(rig.url('/co-private'))));
    await until('the leader at the origin, three waiting', () => rig.seen('/co-private').length === 1 && waiting() === 3);
    leaderHead();
    // the leader's body is still open: the waiters were released by its head, not its end
    await until('the three waiters at the origin too', () => bodies.length === 4);
    bodies.forEach((res) => res.end('end'));
    const all = await replies;
    expect(all.map((r) => r.body)).to.deep.equal(Array(4).fill('part;end'));
    expect(all.filter((r) => status(r.headers).includes('collapsed=?0'))).to.have.length(3);
  });

  describe('with a short response_timeout', () => {
    let short: CacheRig;
    before(async () => { short = await cacheRig({ pool: { response_timeout: '2s' } }); });
    after(async () => { await short.close(); });

    it('a waiter never waits longer than the pool response_timeout', async () => {
      let leaderDone = false;
      short.on('/co-slow', (_q, res, n) => {
        res.writeHead(200, { 'cache-control': 'max-age=600' });
        if (n > 1) { res.end('second'); return; }
        // the leader's body trickles (each gap far under the timeout) until the waiter has its answer
        const t = setInterval(() => { if (leaderDone) { clearInterval(t); res.end('first'); } else res.write('.'); }, 100);
      });
      const leader = send(short.url('/co-slow'));
      expect(await waitFor(() => short.seen('/co-slow').length === 1, 20_000), 'the leader at the origin').to.equal(true);
      const waiter = await send(short.url('/co-slow'));
      leaderDone = true;
      expect(waiter.body).to.equal('second');
      expect(waiter.ms, 'it waited for the leader first').to.be.at.least(1900);
      expect(status(waiter.headers)).to.include('collapsed=?0');
      expect((await leader).body).to.match(/^\.+first$/);
      expect(short.seen('/co-slow')).to.have.length(2);
    });
  });
});
