/**
 * Each balancer through the real proxy, counted on the origins' side too: one small check per
 * policy that the proxy really uses it. Every check here is deterministic (exact rotations, hashes,
 * or an upstream holding requests open); the statistical spreads are unit tests with seeded
 * randomness (test/unit/reverse/balancers).
 */
import type { ServerResponse } from 'node:http';
import { expect } from 'chai';
import { startOrigin, startProxy, simpleReverse, type Origin, type TestProxy } from '../helpers/loopback.js';
import { loadAgent, longestRun, runLoad, shoot, tally, waitFor } from '../helpers/load.js';

const NAMES = ['a', 'b', 'c', 'd'];

describe('e2e: balancers', function () {
  this.timeout(30_000);
  const agent = loadAgent();
  let origins: Origin[] = [];
  let proxy: TestProxy | undefined;
  /** Responses an origin holds open until the test ends them. */
  let held: ServerResponse[] = [];

  async function setup(n: number, pool: Record<string, unknown>, opts: { slowAMs?: number; top?: Record<string, unknown> } = {}) {
    const first = opts.slowAMs ? (_q: unknown, s: ServerResponse) => { setTimeout(() => s.end('a'), opts.slowAMs); } : 'a';
    origins = await Promise.all(Array.from({ length: n }, (_, i) => startOrigin(i === 0 ? first as never : NAMES[i])));
    const cfg = simpleReverse(origins.map((o) => o.url), pool) as Record<string, unknown>;
    const weights = pool.weights as number[] | undefined;
    if (weights) {
      delete (cfg.pools as { app: Record<string, unknown> }).app.weights;
      (cfg.pools as { app: { upstreams: { weight?: number }[] } }).app.upstreams.forEach((u, i) => { u.weight = weights[i]; });
    }
    proxy = await startProxy({ ...cfg, ...opts.top });
  }
  afterEach(async () => {
    for (const s of held) s.end('a');
    held = [];
    await proxy?.close();
    await Promise.all(origins.map((o) => o.close()));
    proxy = undefined;
  });
  after(() => agent.close());

  const bodies = async (total: number, concurrency: number, headers?: (i: number) => Record<string, string>) => {
    const shots = await runLoad(total, concurrency, (i) => shoot(agent, `${proxy!.url()}/x`, { headers: headers?.(i) }));
    expect(shots.filter((s) => s.status !== 200)).to.deep.equal([]);
    return shots.map((s) => s.body);
  };

  it('round_robin: exactly even, in rotation', async () => {
    await setup(3, { balance: 'round_robin' });
    const t = tally(await bodies(300, 16));
    expect(t).to.deep.equal({ a: 100, b: 100, c: 100 });
    expect(origins.map((o) => o.seen.length)).to.deep.equal([100, 100, 100]);
  });

  it('weighted_round_robin: 5:1:1 exactly, never more than 4 in a row to the heavy one', async () => {
    await setup(3, { balance: 'weighted_round_robin', weights: [5, 1, 1] });
    const seq = await bodies(140, 1);
    expect(longestRun(seq, 'a')).to.equal(4);
    expect(tally(seq)).to.deep.equal({ a: 100, b: 20, c: 20 });
  });

  for (const balance of ['least_conn', 'random_two']) {
    it(`${balance}: an upstream holding requests open gets no new ones while the others are idle`, async () => {
      // `a` alone in the pool takes two requests and holds them; then b and c join through the
      // admin API. Sequential requests leave b and c at most one in flight, so `a` loses every comparison.
      origins = await Promise.all([startOrigin((_q, s) => { held.push(s); }), startOrigin('b'), startOrigin('c')]);
      proxy = await startProxy({ ...simpleReverse([origins[0]!.url], { balance }), admin: { listen: '127.0.0.1:0', token: 't0ken' } });
      const pending = [shoot(agent, `${proxy.url()}/x`), shoot(agent, `${proxy.url()}/x`)];
      expect(await waitFor(() => held.length === 2, 5000)).to.equal(true);
      for (const o of origins.slice(1)) {
        const r = await fetch(`${proxy.adminUrl()}/pools/app/upstreams`, { method: 'POST', body: JSON.stringify({ url: o.url }), headers: { authorization: 'Bearer t0ken' } });
        expect(r.status).to.equal(201);
      }
      const t = tally(await bodies(60, 1));
      expect(t.a ?? 0).to.equal(0);
      expect(t.b! + t.c!).to.equal(60);
      for (const s of held) s.end('a');
      held = [];
      expect((await Promise.all(pending)).map((r) => r.body)).to.deep.equal(['a', 'a']);
    });
  }

  it('least_time: a slow upstream gets less traffic than an even share', async () => {
    // `a` answers after 400 ms, the others at once. An even share would be 20 of 60; least time
    // sends `a` its first try and then only the exploring share (5% spread over three).
    await setup(3, { balance: 'least_time' }, { slowAMs: 400 });
    const t = tally(await bodies(60, 1));
    expect(t.a ?? 0).to.be.below(15);
  });

  it('ip_hash: the real client from X-Forwarded-For when the peer is trusted, stable per client; ignored from untrusted peers', async () => {
    await setup(3, { balance: 'ip_hash' });
    const ip = (i: number) => ({ 'x-forwarded-for': `10.0.${i >> 8}.${i & 255}` });
    const first = await bodies(300, 16, (i) => ip(i));
    const again = await bodies(300, 16, (i) => ip(i));
    expect(again).to.deep.equal(first);
    expect(Object.keys(tally(first)).sort()).to.deep.equal(['a', 'b', 'c']);
    // a spoofed left-most entry behind a real untrusted client changes nothing
    const spoofed = await bodies(50, 4, (i) => ({ 'x-forwarded-for': `6.6.6.${i}, 10.0.0.7` }));
    expect(new Set(spoofed).size).to.equal(1);
    expect(spoofed[0]).to.equal(first[7]);
  });

  it('ip_hash: X-Forwarded-For from an untrusted peer is ignored (every request is the peer)', async () => {
    await setup(3, { balance: 'ip_hash' }, { top: { trusted_proxies: [] } });
    const seen = await bodies(100, 8, (i) => ({ 'x-forwarded-for': `10.1.0.${i}` }));
    expect(new Set(seen).size).to.equal(1);
  });

  it('consistent_hash on a header: a key always lands on the same upstream, every upstream gets keys', async () => {
    await setup(4, { balance: 'consistent_hash', hash_key: 'header:x-user' });
    const key = (i: number) => ({ 'x-user': `user-${i}` });
    const first = await bodies(400, 16, key);
    expect(await bodies(400, 16, key)).to.deep.equal(first);
    expect(Object.keys(tally(first)).sort()).to.deep.equal(['a', 'b', 'c', 'd']);
  });
});
