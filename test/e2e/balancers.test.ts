/** Each balancer through the real proxy: the distribution it promises, counted on the origins' side too. */
import { expect } from 'chai';
import { startOrigin, startProxy, simpleReverse, type Origin, type TestProxy } from '../helpers/loopback.js';
import { loadAgent, longestRun, runLoad, shoot, tally } from '../helpers/load.js';

const NAMES = ['a', 'b', 'c', 'd'];

describe('e2e: balancers', function () {
  this.timeout(30_000);
  const agent = loadAgent();
  let origins: Origin[] = [];
  let proxy: TestProxy | undefined;

  async function setup(n: number, pool: Record<string, unknown>, handlers?: Parameters<typeof startOrigin>[0][], top: Record<string, unknown> = {}) {
    origins = await Promise.all(Array.from({ length: n }, (_, i) => startOrigin(handlers?.[i] ?? NAMES[i]!)));
    const cfg = simpleReverse(origins.map((o) => o.url), pool) as Record<string, unknown>;
    const weights = pool.weights as number[] | undefined;
    if (weights) {
      delete (cfg.pools as { app: Record<string, unknown> }).app.weights;
      (cfg.pools as { app: { upstreams: { weight?: number }[] } }).app.upstreams.forEach((u, i) => { u.weight = weights[i]; });
    }
    proxy = await startProxy({ ...cfg, ...top });
  }
  afterEach(async () => {
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
  const within = (got: number, want: number, tolerance: number) =>
    expect(Math.abs(got - want), `${got} vs ${want} ±${Math.round(want * tolerance)}`).to.be.at.most(want * tolerance);

  it('round_robin: exactly even over 3 000 requests', async () => {
    await setup(3, { balance: 'round_robin' });
    const t = tally(await bodies(3000, 16));
    expect(t).to.deep.equal({ a: 1000, b: 1000, c: 1000 });
    expect(origins.map((o) => o.seen.length)).to.deep.equal([1000, 1000, 1000]);
  });

  it('weighted_round_robin: 5:1:1 over 7 000 requests within 5%, never more than 4 in a row to the heavy one', async () => {
    await setup(3, { balance: 'weighted_round_robin', weights: [5, 1, 1] });
    const t = tally(await bodies(7000, 32));
    within(t.a!, 5000, 0.05);
    within(t.b!, 1000, 0.05);
    within(t.c!, 1000, 0.05);
    // order is only observable without concurrency
    const seq = await bodies(140, 1);
    expect(longestRun(seq, 'a')).to.equal(4);
    expect(tally(seq)).to.deep.equal({ a: 100, b: 20, c: 20 });
  });

  it('least_conn: weights hold when idle; new requests go away from an upstream holding slow ones', async () => {
    await setup(3, { balance: 'least_conn', weights: [5, 1, 1] });
    const t = tally(await bodies(7000, 1));
    // idle ties are broken by a weighted random draw: 10% covers > 3 standard deviations
    within(t.a!, 5000, 0.05);
    within(t.b!, 1000, 0.1);
    within(t.c!, 1000, 0.1);
  });

  it('least_conn: an upstream holding slow requests gets few new ones', async () => {
    const slow = (_q: unknown, s: { end(b: string): void }) => setTimeout(() => s.end('a'), 150);
    await setup(3, { balance: 'least_conn' }, [slow as never, 'b', 'c']);
    const t = tally(await bodies(600, 12));
    // each slow request occupies `a` ~150 ms while b and c turn over hundreds
    expect(t.a ?? 0).to.be.below(600 * 0.1);
    expect(t.b).to.be.above(250);
    expect(t.c).to.be.above(250);
  });

  it('ip_hash: the real client from X-Forwarded-For when the peer is trusted, stable per client; ignored from untrusted peers', async () => {
    await setup(3, { balance: 'ip_hash' });
    const ip = (i: number) => ({ 'x-forwarded-for': `10.0.${i >> 8}.${i & 255}` });
    const first = await bodies(600, 16, (i) => ip(i));
    const again = await bodies(600, 16, (i) => ip(i));
    expect(again).to.deep.equal(first);
    const t = tally(first);
    for (const n of ['a', 'b', 'c']) within(t[n]!, 200, 0.3);
    // a spoofed left-most entry behind a real untrusted client changes nothing
    const spoofed = await bodies(50, 4, (i) => ({ 'x-forwarded-for': `6.6.6.${i}, 10.0.0.7` }));
    expect(new Set(spoofed).size).to.equal(1);
    expect(spoofed[0]).to.equal(first[7]);
  });

  it('ip_hash: X-Forwarded-For from an untrusted peer is ignored (every request is the peer)', async () => {
    await setup(3, { balance: 'ip_hash' }, undefined, { trusted_proxies: [] });
    const seen = await bodies(200, 8, (i) => ({ 'x-forwarded-for': `10.1.0.${i}` }));
    expect(new Set(seen).size).to.equal(1);
  });

  it('consistent_hash on a header: a key always lands on the same upstream, keys spread evenly', async () => {
    await setup(4, { balance: 'consistent_hash', hash_key: 'header:x-user' });
    const key = (i: number) => ({ 'x-user': `user-${i}` });
    const first = await bodies(4000, 32, key);
    expect(await bodies(4000, 32, key)).to.deep.equal(first);
    const t = tally(first);
    for (const n of ['a', 'b', 'c', 'd']) within(t[n]!, 1000, 0.25);
  });

  it('least_time: a slow upstream gets less traffic, but still some', async () => {
    const slow = (_q: unknown, s: { end(b: string): void }) => setTimeout(() => s.end('a'), 25);
    await setup(3, { balance: 'least_time' }, [slow as never, 'b', 'c']);
    const t = tally(await bodies(900, 6));
    expect(t.a ?? 0).to.be.above(0);
    expect(t.a ?? 0).to.be.below(900 * 0.15);
  });

  it('random_two: even over equal upstreams; steers away from a slow one', async () => {
    await setup(3, { balance: 'random_two' });
    const t = tally(await bodies(3000, 8));
    for (const n of ['a', 'b', 'c']) within(t[n]!, 1000, 0.15);
    await proxy!.close();
    await Promise.all(origins.map((o) => o.close()));
    const slow = (_q: unknown, s: { end(b: string): void }) => setTimeout(() => s.end('a'), 150);
    await setup(3, { balance: 'random_two' }, [slow as never, 'b', 'c']);
    const t2 = tally(await bodies(600, 12));
    expect(t2.a ?? 0).to.be.below(600 * 0.15);
  });
});
