import { expect } from 'chai';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { PluginDir } from '../unit/plugins/plugin-fixtures.js';

const ROUTER = `
export function route(req) {
  const to = req.headers['x-to'];
  if (to === 'blue') return { pool: 'blue' };
  if (to === 'outside') return { upstream: 'http://169.254.169.254/' };
  if (to === 'nowhere') return { pool: 'nowhere' };
  if (req.headers['x-pin']) return { upstream: req.headers['x-pin'] };
}`;

describe('plugins e2e: routing plugins choose the pool and pin upstreams', function () {
  this.timeout(30_000);
  const dir = new PluginDir();
  let g1: Origin, g2: Origin, b1: Origin;
  let proxy: TestProxy;
  const hit = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${proxy.url()}${path}`, { headers });
    return { status: res.status, body: await res.text(), res };
  };

  before(async () => {
    dir.write('router.js', ROUTER);
    [g1, g2, b1] = await Promise.all([startOrigin('g1'), startOrigin('g2'), startOrigin('b1')]);
    proxy = await startProxy({
      plugins: { dir: dir.dir, watch: false },
      reverse: [{
        routes: [
          { name: 'strict', match: { path_prefix: '/strict' }, pool: 'green', plugins: [{ file: 'router.js', on_error: 'fail_closed' }] },
          { name: 'direct', match: { path_prefix: '/direct' }, respond: { status: 404, body: 'nothing here' }, plugins: ['router.js'] },
          { name: 'main', match: {}, pool: 'green', plugins: ['router.js'] },
        ],
      }],
      pools: {
        green: { balance: 'round_robin', upstreams: [{ url: g1.url }, { url: g2.url }] },
        blue: { upstreams: [{ url: b1.url }] },
      },
    });
  });
  after(async () => { await proxy.close(); await Promise.all([g1, g2, b1].map((o) => o.close())); dir.remove(); });

  it('keeps the route\'s pool when the plugin returns nothing', async () => {
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await hit('/x')).body);
    expect([...bodies].sort()).to.deep.equal(['g1', 'g2']);
  });

  it('{ pool } sends the request to another pool', async () => {
    for (let i = 0; i < 3; i++) expect((await hit('/x', { 'x-to': 'blue' })).body).to.equal('b1');
  });

  it('{ upstream } pins one upstream of the pool, past the balancer', async () => {
    for (let i = 0; i < 5; i++) expect((await hit('/x', { 'x-pin': g2.url })).body).to.equal('g2');
    // an upstream of another pool switches to that pool
    expect((await hit('/x', { 'x-pin': `${b1.url}/` })).body).to.equal('b1');
  });

  it('a pinned upstream that is down falls back to the pool\'s balancer', async () => {
    const u = proxy.gateway.pools.get('green')!.find(g2.url)!;
    u.healthy = false;
    try {
      const r = await hit('/x', { 'x-pin': g2.url });
      expect(r.body).to.equal('g1');
      const id = r.res.headers.get('x-request-id');
      const access = proxy.logs.find((l) => l.msg === 'access' && l.reqId === id)!;
      expect(access.pin_unavailable).to.equal(g2.url);
      expect(access.routed_by).to.match(/^router/);
    } finally {
      u.healthy = true;
    }
  });

  it('targets outside the configured pools are errors: fail_open (route default) keeps the route\'s pool, fail_closed answers 503', async () => {
    for (const to of ['outside', 'nowhere']) {
      const r = await hit('/x', { 'x-to': to });
      expect(r.status).to.equal(200);
      expect(['g1', 'g2']).to.include(r.body);
      const strict = await hit('/strict', { 'x-to': to });
      expect(strict.status).to.equal(503);
      expect(strict.res.headers.get('proxy-status')).to.contain('plugin router failed (malformed)');
    }
    expect(b1.seen.every((r) => r.headers['x-to'] !== 'outside')).to.equal(true);
  });

  it('counts each fallback from a decision naming a pool or upstream not in the config, per plugin and reason', async () => {
    const metric = async () => (await proxy.gateway.metrics.registry.getSingleMetricAsString('gatehouse_plugin_route_fallbacks_total'));
    const count = (text: string, reason: string) => Number(new RegExp(`reason="${reason}"} (\\d+)`).exec(text)?.[1] ?? 0);
    const before = await metric();
    const r = await hit('/x', { 'x-to': 'nowhere' });
    await hit('/x', { 'x-to': 'nowhere' });
    await hit('/x', { 'x-to': 'outside' });
    await hit('/x', { 'x-to': 'blue' });
    const after = await metric();
    expect(after, after).to.match(/plugin="router[^"]*",reason="unknown_pool"/);
    expect(count(after, 'unknown_pool') - count(before, 'unknown_pool')).to.equal(2);
    expect(count(after, 'unknown_upstream') - count(before, 'unknown_upstream')).to.equal(1);
    const access = proxy.logs.find((l) => l.msg === 'access' && l.reqId === r.res.headers.get('x-request-id'))!;
    expect(access.route_fallback).to.deep.include({ reason: 'unknown_pool' });
  });

  it('a routing plugin can send a respond route\'s request to a pool', async () => {
    expect(await hit('/direct')).to.include({ status: 404, body: 'nothing here' });
    expect(await hit('/direct', { 'x-to': 'blue' })).to.include({ status: 200, body: 'b1' });
  });
});
