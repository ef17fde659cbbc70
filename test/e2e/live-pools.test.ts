/** Live pool changes through the admin API while the proxy is under load: nothing lost, changes visible at once. */
import { expect } from 'chai';
import { startOrigin, startProxy, simpleReverse, type Origin, type TestProxy } from '../helpers/loopback.js';
import { buildConfig } from '../../src/config/load.js';
import { loadAgent, runLoad, shoot, sleep, tally, waitFor } from '../helpers/load.js';

const slowOrigin = (name: string, ms: number) => startOrigin((req, res) => { req.resume(); setTimeout(() => res.end(name), ms); });

describe('e2e: live pools (admin API)', function () {
  this.timeout(30_000);
  const agent = loadAgent();
  let origins: Origin[] = [];
  let proxy: TestProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    await Promise.all(origins.map((o) => o.close()));
  });
  after(() => agent.close());

  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${proxy!.adminUrl()}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { authorization: 'Bearer t0ken' } });
  type Status = { pools: Record<string, { upstreams: Record<string, unknown>[] }> };
  const status = async () => (await (await fetch(`${proxy!.adminUrl()}/status`)).json()) as Status;

  it('add, drain and remove under load: every request answered, the drained upstream finishes its in-flight ones and gets no more', async () => {
    origins = await Promise.all([slowOrigin('a', 5), slowOrigin('b', 5), slowOrigin('c', 5)]);
    const [a, b, c] = origins as [Origin, Origin, Origin];
    proxy = await startProxy({ ...simpleReverse([a.url, b.url], { balance: 'least_conn' }), admin: { listen: '127.0.0.1:0', token: 't0ken' } });
    const total = 3000;
    let done = 0;
    const load = runLoad(total, 24, async (i) => {
      const r = await shoot(agent, `${proxy!.url()}/r${i}`);
      done++;
      return r;
    });
    expect(await waitFor(() => done > 500, 20_000, 5)).to.equal(true);
    const added = await admin('POST', '/pools/app/upstreams', { url: c.url, weight: 2 });
    expect(added.status).to.equal(201);
    expect(await waitFor(() => c.seen.length > 100, 20_000, 5)).to.equal(true);
    const drained = await admin('DELETE', `/pools/app/upstreams?url=${encodeURIComponent(a.url)}`);
    expect(drained.status).to.equal(200);
    expect(await drained.json()).to.deep.equal({ pool: 'app', removed: a.url });
    const seenByAAtRemoval = a.seen.length;
    expect(done, 'drain waits only for in-flight requests, not for the load').to.be.below(total);
    const results = await load;

    expect(results.filter((r) => r.status !== 200), 'lost requests').to.deep.equal([]);
    const t = tally(results.map((r) => r.body));
    expect(t.a! + t.b! + t.c!).to.equal(total);
    expect(a.seen.length, 'no request reached a after its removal').to.equal(seenByAAtRemoval);
    expect(t.a).to.equal(a.seen.length);
    expect(t.c).to.be.above(100);
    const s = await status();
    expect(s.pools.app!.upstreams.map((u) => u.url)).to.deep.equal([b.url, c.url]);
    expect(s.pools.app!.upstreams[1]).to.include({ configured_weight: 2, state: 'up' });
    const logs = proxy.logs.map((l) => l.msg);
    for (const m of ['upstream added', 'upstream draining', 'upstream removed']) expect(logs).to.include(m);
  });

  it('PATCH changes a weight at once; bad requests are refused; mutating calls need the token', async () => {
    origins = await Promise.all([startOrigin('a'), startOrigin('b')]);
    const [a, b] = origins as [Origin, Origin];
    proxy = await startProxy({ ...simpleReverse([a.url, b.url], { balance: 'weighted_round_robin' }), admin: { listen: '127.0.0.1:0', token: 't0ken' } });
    const before = await runLoad(400, 8, () => shoot(agent, `${proxy!.url()}/`));
    expect(tally(before.map((r) => r.body))).to.deep.equal({ a: 200, b: 200 });
    const patched = await admin('PATCH', `/pools/app/upstreams?url=${encodeURIComponent(b.url)}`, { weight: 3 });
    expect(patched.status).to.equal(200);
    const after = await runLoad(400, 8, () => shoot(agent, `${proxy!.url()}/`));
    expect(tally(after.map((r) => r.body))).to.deep.equal({ a: 100, b: 300 });
    const s = await status();
    expect(s.pools.app!.upstreams[1]).to.include({ url: b.url, configured_weight: 3, weight: 3 });
    expect(proxy.logs.find((l) => l.msg === 'upstream weight changed')).to.include({ from: 1, to: 3 });

    expect((await admin('PATCH', `/pools/app/upstreams?url=${encodeURIComponent(b.url)}`, { weight: 0 })).status).to.equal(400);
    expect((await admin('PATCH', '/pools/app/upstreams?url=http://127.0.0.1:1', { weight: 2 })).status).to.equal(404);
    expect((await admin('PATCH', `/pools/nope/upstreams?url=${encodeURIComponent(b.url)}`, { weight: 2 })).status).to.equal(404);
    expect((await admin('POST', '/pools/app/upstreams', { url: a.url })).status).to.equal(409);
    expect((await admin('POST', '/pools/app/upstreams', { url: 'ftp://x' })).status).to.equal(400);
    const noToken = await fetch(`${proxy.adminUrl()}/pools/app/upstreams?url=${encodeURIComponent(b.url)}`, { method: 'PATCH', body: '{"weight":5}' });
    expect(noToken.status).to.equal(401);
  });

  it('reload: health checks start, follow and stop with the config; tcp listeners come and go; upstreams keep their state', async () => {
    origins = await Promise.all([startOrigin('a'), startOrigin('b')]);
    const [a, b] = origins as [Origin, Origin];
    const base = { ...simpleReverse([a.url, b.url]), node_id: 'gh-test', admin: { listen: '' }, shutdown_timeout: '1s' };
    (base.reverse[0] as { listen?: string }).listen = '127.0.0.1:0'; // reload matches listeners by address
    proxy = await startProxy(base);
    const pool = () => proxy!.gateway.pools.get('app')!;
    const upA = pool().find(a.url)!;
    await runLoad(10, 2, () => shoot(agent, `${proxy!.url()}/`));
    const health = { path: '/', interval: '50ms', timeout: '5s', fall: 1, rise: 1, expect_status: ['200-299'] };
    const withChecks = structuredClone(base) as Record<string, unknown> & { pools: { app: Record<string, unknown> } };
    withChecks.pools.app.health = health;
    withChecks.tcp = [{ listen: '127.0.0.1:0', pool: 'app' }];
    await proxy.gateway.reload(buildConfig(withChecks, { env: {} }));
    expect(pool().find(a.url), 'same Upstream object kept').to.equal(upA);
    expect(upA.requests).to.equal(5);
    expect(proxy.gateway.tcpListeners).to.have.length(1);
    expect(await waitFor(() => upA.lastCheck?.ok === true && pool().find(b.url)!.lastCheck?.ok === true, 10_000)).to.equal(true);
    await b.close();
    expect(await waitFor(() => !pool().find(b.url)!.healthy, 10_000)).to.equal(true);
    // checks off again: nothing would ever bring b back, so it is healthy by fiat; tcp listener gone
    await proxy.gateway.reload(buildConfig({ ...withChecks, pools: base.pools, tcp: [] }, { env: {} }));
    expect(pool().find(b.url)!.healthy).to.equal(true);
    expect(proxy.gateway.tcpListeners).to.have.length(0);
    expect(upA.lastCheck, 'no last check while checks are off').to.equal(undefined);
    await sleep(200);
    expect(upA.lastCheck, 'no checks after they were turned off').to.equal(undefined);
  });

  it('consistent_hash: removing one of 4 upstreams through the admin API moves exactly its keys, and adding it back returns them', async () => {
    origins = await Promise.all(['a', 'b', 'c', 'd'].map((n) => startOrigin(n)));
    proxy = await startProxy({
      ...simpleReverse(origins.map((o) => o.url), { balance: 'consistent_hash', hash_key: 'header:x-user' }),
      admin: { listen: '127.0.0.1:0', token: 't0ken' },
    });
    const keys = 1000;
    const run = () => runLoad(keys, 48, (i) => shoot(agent, `${proxy!.url()}/`, { headers: { 'x-user': `user-${i}` } }));
    const before = (await run()).map((r) => r.body);
    expect((await admin('DELETE', `/pools/app/upstreams?url=${encodeURIComponent(origins[2]!.url)}`)).status).to.equal(200);
    const after = (await run()).map((r) => r.body);
    const moved = before.filter((v, i) => v !== after[i]).length;
    const onRemoved = before.filter((v) => v === 'c').length;
    expect(moved, `moved ${moved} of ${keys}`).to.be.at.most((1.5 / 4) * keys);
    expect(moved, 'exactly the keys of the removed upstream move').to.equal(onRemoved);
    expect(after).not.to.include('c');
    // adding it back returns exactly those keys
    expect((await admin('POST', '/pools/app/upstreams', { url: origins[2]!.url })).status).to.equal(201);
    await sleep(10);
    const back = (await run()).map((r) => r.body);
    expect(back).to.deep.equal(before);
  });
});
