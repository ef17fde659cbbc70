/** Health and failover through the real proxy: an upstream killed mid-load, active fall/rise, passive ejection, all down. */
import { expect } from 'chai';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { startOrigin, startProxy, simpleReverse, type Origin, type TestProxy } from '../helpers/loopback.js';
import { OWN_HOST, ownUrl, refusedUrl } from '../helpers/addresses.js';
import { loadAgent, runLoad, shoot, tally, waitFor } from '../helpers/load.js';

/**
 * An origin that tracks requests by x-test-id, on this process's own loopback address so that it can
 * come back on its port after being killed (nothing else can take the port meanwhile).
 */
async function trackedOrigin(name: string, port = 0, delayMs = 0) {
  const started = new Map<string, string>(); // id -> method
  const finished = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/health') { res.end('ok'); return; }
    const id = String(req.headers['x-test-id'] ?? '');
    started.set(id, req.method!);
    req.resume();
    setTimeout(() => { res.end(name, () => finished.add(id)); }, delayMs);
  });
  server.listen(port, OWN_HOST);
  await once(server, 'listening');
  const p = (server.address() as { port: number }).port;
  return {
    url: ownUrl(p), port: p, started, finished,
    kill: async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}

const msgs = (proxy: TestProxy, msg: string) => proxy.logs.filter((l) => l.msg === msg);

describe('e2e: health and failover', function () {
  this.timeout(30_000);
  const agent = loadAgent();
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });
  after(() => agent.close());

  it('an upstream killed mid-load: only non-idempotent requests in flight on it fail; GETs are retried; health marks it down after fall and up after rise', async () => {
    const a = await trackedOrigin('a', 0, 2);
    const b = await trackedOrigin('b', 0, 40);
    const c = await trackedOrigin('c', 0, 2);
    cleanup.push(() => a.kill(), () => c.kill());
    const proxy = await startProxy({
      ...simpleReverse([a.url, b.url, c.url], {
        health: { path: '/health', interval: '100ms', timeout: '5s', fall: 2, rise: 2 }, retries: 2, slow_start: '60s',
      }),
      admin: { listen: '127.0.0.1:0' },
    });
    cleanup.unshift(() => proxy.close());
    let killed = false;
    const total = 1200;
    const load = runLoad(total, 24, async (i) => {
      // every 4th request is a POST with a body: not retryable once sent
      const post = i % 4 === 0;
      const r = await shoot(agent, `${proxy.url()}/r${i}`, { method: post ? 'POST' : 'GET', body: post ? 'x' : undefined, headers: { 'x-test-id': String(i) } });
      return { i, post, killedBefore: killed, ...r };
    });
    const onB = () => [...b.started.keys()].filter((id) => !b.finished.has(id));
    // b itself holds several requests (the proxy's count would include some not yet arrived)
    await waitFor(() => b.started.size >= 60 && onB().length > 2, 10_000, 1);
    const inFlightOnB = onB();
    await b.kill();
    killed = true;
    const results = await load;

    const failed = results.filter((r) => r.status !== 200);
    expect(inFlightOnB.length, 'requests in flight on b when it died').to.be.above(2);
    // every failure was a POST sent to b (those in flight when it died, and any b had not read yet,
    // which the snapshot above cannot see); every GET succeeded
    const sentToB = new Set(proxy.logs.filter((l) => l.msg === 'access' && l.upstream === b.url).map((l) => Number(String(l.path).slice(2))));
    for (const f of failed) expect(f.post && sentToB.has(f.i), `request ${f.i} failed with ${f.status}`).to.equal(true);
    const postsLost = inFlightOnB.filter((id) => b.started.get(id) === 'POST').map(Number);
    for (const id of postsLost) expect(results[id]!.status, `POST ${id} was in flight on b`).to.not.equal(200);
    const getsOnB = inFlightOnB.filter((id) => b.started.get(id) === 'GET').map(Number);
    for (const id of getsOnB) expect(results[id]!.status, `GET ${id} retried`).to.equal(200);
    expect(getsOnB.length).to.be.above(0);
    const retried = proxy.logs.filter((l) => l.msg === 'access' && (l.retries as number) > 0);
    expect(retried.length).to.be.at.least(getsOnB.length);
    const metrics = await (await fetch(`${proxy.adminUrl()}/metrics`)).text();
    expect(metrics).to.match(/gatehouse_retries_total\{pool="app"\} [1-9]/);

    // active checks: down after `fall` failures, with the transition logged and counted
    expect(await waitFor(() => msgs(proxy, 'upstream unhealthy').length > 0, 10_000)).to.equal(true);
    const down = msgs(proxy, 'upstream unhealthy')[0]!;
    expect(down).to.include({ pool: 'app', upstream: b.url, from: 'healthy', to: 'unhealthy', level: 40 });
    expect(down.reason).to.match(/^2 consecutive failures \(ECONNREFUSED\)/);
    const status = await (await fetch(`${proxy.adminUrl()}/status`)).json() as { pools: { app: { upstreams: Record<string, unknown>[] } } };
    const bs = status.pools.app.upstreams.find((u) => u.url === b.url)!;
    expect(bs).to.include({ state: 'down', health: 'unhealthy' });
    expect((bs.last_check as { ok: boolean; reason: string }).ok).to.equal(false);
    // while down, nothing is sent to it, nothing fails
    const during = await runLoad(60, 6, () => shoot(agent, `${proxy.url()}/`));
    expect(tally(during.map((r) => r.body))).to.deep.equal({ a: 30, c: 30 });

    // back on the same port: up after `rise` successes, then ramping its weight (slow_start)
    const b2 = await trackedOrigin('b', b.port, 0);
    cleanup.push(() => b2.kill());
    expect(await waitFor(() => msgs(proxy, 'upstream healthy').length > 0, 10_000)).to.equal(true);
    expect(msgs(proxy, 'upstream healthy')[0]).to.include({ upstream: b.url, from: 'unhealthy', to: 'healthy', reason: '2 consecutive successes (status 200)' });
    const after = await runLoad(90, 1, () => shoot(agent, `${proxy.url()}/`));
    expect(tally(after.map((r) => r.body))).to.deep.equal({ a: 30, b: 30, c: 30 });
    const s2 = await (await fetch(`${proxy.adminUrl()}/status`)).json() as typeof status;
    const b2s = s2.pools.app.upstreams.find((u) => u.url === b.url)!;
    expect(b2s).to.include({ state: 'up', health: 'healthy', configured_weight: 1 });
    expect(b2s.weight as number).to.be.below(1);
    const m2 = await (await fetch(`${proxy.adminUrl()}/metrics`)).text();
    expect(m2).to.include(`gatehouse_health_transitions_total{pool="app",upstream="${b.url}",to="unhealthy"} 1`);
    expect(m2).to.include(`gatehouse_health_transitions_total{pool="app",upstream="${b.url}",to="healthy"} 1`);
    expect(m2).to.include(`gatehouse_upstream_healthy{pool="app",upstream="${b.url}"} 1`);
    expect(m2).to.match(/gatehouse_upstream_active_connections\{pool="app",upstream="http:\/\/[\d.]+:\d+"\} 0/);
  });

  it('passive: connection failures within the window eject an upstream, logged, shown in /status; at most half the pool', async () => {
    const live = await Promise.all(['a', 'b', 'c'].map((n) => startOrigin(n)));
    const dead = { url: refusedUrl() };
    cleanup.push(() => Promise.all(live.map((o) => o.close())));
    const proxy = await startProxy({
      ...simpleReverse([...live.map((o) => o.url), dead.url], { passive: { max_failures: 2, window: '10s', eject: '30s' } }),
      admin: { listen: '127.0.0.1:0' },
    });
    cleanup.unshift(() => proxy.close());
    const shots = await runLoad(40, 1, () => shoot(agent, `${proxy.url()}/`));
    expect(shots.every((s) => s.status === 200)).to.equal(true);
    const ejected = msgs(proxy, 'upstream ejected');
    expect(ejected).to.have.length(1);
    expect(ejected[0]).to.include({ pool: 'app', upstream: dead.url, reason: 'connect', eject_ms: 30000, ejections: 1 });
    // after ejection, no more retries were needed
    const access = proxy.logs.filter((l) => l.msg === 'access');
    expect(access.filter((l) => l.retries).length).to.equal(2);
    const status = await (await fetch(`${proxy.adminUrl()}/status`)).json() as { pools: { app: { upstreams: Record<string, unknown>[] } } };
    expect(status.pools.app.upstreams.find((u) => u.url === dead.url)).to.include({ state: 'down', ejected: true, ejections: 1, health: 'healthy' });
  });

  it('passive: logs when an ejection ends', async () => {
    const live = await startOrigin('live');
    const dead = { url: refusedUrl() };
    cleanup.push(() => live.close());
    const proxy = await startProxy(simpleReverse([live.url, dead.url], { passive: { max_failures: 1, window: '10s', eject: '300ms' } }));
    cleanup.unshift(() => proxy.close());
    await runLoad(4, 1, () => shoot(agent, `${proxy.url()}/`));
    // a second ejection is fine too: on a slow machine the first may end before the fourth request
    expect(msgs(proxy, 'upstream ejected')).to.have.length.at.least(1);
    expect(await waitFor(() => msgs(proxy, 'upstream ejection ended').length >= 1, 10_000)).to.equal(true);
    expect(msgs(proxy, 'upstream ejection ended')[0]).to.include({ pool: 'app', upstream: dead.url, ejections: 1 });
  });

  it('passive on_5xx: an upstream answering 500s is ejected; a one-upstream pool never is', async () => {
    const bad = await startOrigin((_q, s) => { s.statusCode = 500; s.end('bad'); });
    const good = await startOrigin('good');
    cleanup.push(() => bad.close(), () => good.close());
    const proxy = await startProxy(simpleReverse([bad.url, good.url], { passive: { max_failures: 3, window: '10s', eject: '30s', on_5xx: true } }));
    cleanup.unshift(() => proxy.close());
    const shots = await runLoad(30, 1, () => shoot(agent, `${proxy.url()}/`));
    expect(tally(shots.map((s) => s.body))).to.deep.equal({ bad: 3, good: 27 });
    const solo = await startProxy(simpleReverse([bad.url], { passive: { max_failures: 1, window: '10s', eject: '30s', on_5xx: true } }));
    cleanup.unshift(() => solo.close());
    const soloShots = await runLoad(5, 1, () => shoot(agent, `${solo.url()}/`));
    expect(soloShots.map((s) => s.status)).to.deep.equal([500, 500, 500, 500, 500]);
  });

  it('every upstream down: 503 with Proxy-Status, no connection attempt', async () => {
    const os = await Promise.all(['a', 'b'].map((n) => startOrigin(n)));
    const proxy = await startProxy(simpleReverse(os.map((o) => o.url), { health: { path: '/', interval: '50ms', timeout: '5s', fall: 1, rise: 1 } }));
    cleanup.unshift(() => proxy.close());
    expect((await shoot(agent, `${proxy.url()}/`)).status).to.equal(200);
    await Promise.all(os.map((o) => o.close()));
    expect(await waitFor(() => msgs(proxy, 'upstream unhealthy').length === 2, 10_000)).to.equal(true);
    const r = await shoot(agent, `${proxy.url()}/`);
    // 503, not the 502 a refused connection would give: nothing was dialled
    expect(r.status).to.equal(503);
    expect(r.headers['proxy-status']).to.match(/^gatehouse; error=destination_unavailable/);
    expect(r.body).to.include(String(r.headers['x-request-id']));
    expect(await waitFor(() => proxy.logs.some((l) => l.msg === 'access' && l.reqId === r.headers['x-request-id']), 10_000)).to.equal(true);
    const line = proxy.logs.find((l) => l.msg === 'access' && l.reqId === r.headers['x-request-id'])!;
    expect(line).to.include({ status: 503, error: 'destination_unavailable' });
  });
});
