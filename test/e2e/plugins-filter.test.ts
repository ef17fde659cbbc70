import { expect } from 'chai';
import { resolve } from 'node:path';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { PluginDir } from '../unit/plugins/plugin-fixtures.js';
import { loadAgent, runLoad, shoot } from '../helpers/load.js';

/** The plugin's entry in GET /status. */
async function pluginStatus(proxy: TestProxy, name: string): Promise<{ calls: { onRequest: { ok: number }; onResponse: { ok?: number } }; crossings: number }> {
  const status = await (await fetch(`${proxy.adminUrl()}/status`)).json() as { plugins: { name: string }[] };
  return status.plugins.find((p) => p.name === name) as never;
}

// Echoes what it saw, with a Server header a filter strips.
const echo = () => startOrigin((req, res) => {
  req.resume();
  res.writeHead(200, { server: 'origin/1.0', 'content-type': 'application/json' });
  res.end(JSON.stringify({ url: req.url, headers: req.headers }));
});

const FILTER = `
export function onRequest(req) {
  if (req.path === '/deny') return { deny: { status: 429, reason: 'slow down' } };
  if (req.path === '/respond') return { respond: { status: 418, headers: { 'x-teapot': 'yes', 'set-cookie': ['a=1', 'b=2'] }, body: 'short and stout' } };
  if (req.path.startsWith('/old/')) {
    return { rewrite_path: '/new/' + req.path.slice(5), set_headers: { 'x-plugin': 'yes', 'x-seen-user': req.headers['x-user'] ?? '' }, remove_headers: ['x-secret'] };
  }
}
export function onResponse(res, req) {
  if (req.path === '/accepted') return { status: 202 };
  return { set_headers: { 'x-filtered': 'inner' }, remove_headers: ['server'] };
}`;

// The outer filter: listed first, so its onResponse runs last and sees the inner one's work.
const OUTER = `
export function onRequest(req) {
  // sees the rewrite of no one (it runs first) but proves the view is per request
  return { set_headers: { 'x-outer-saw-path': req.path } };
}
export function onResponse(res) {
  return { set_headers: { 'x-outer': 'yes', 'x-outer-saw': res.headers['x-filtered'] ?? 'nothing' } };
}`;

const FAILING = `
// plugins see the client's path (before strip_prefix)
export function onRequest(req) { if (req.path.endsWith('/boom')) throw new Error('secret internals'); }
export function onResponse(res, req) { if (req.path.endsWith('/boom-late')) throw new Error('late'); }`;

describe('plugins e2e: filters deny, respond, rewrite and adjust responses', function () {
  this.timeout(30_000);
  const dir = new PluginDir();
  let origin: Origin;
  let proxy: TestProxy;

  before(async () => {
    dir.write('filter.js', FILTER);
    dir.write('outer.js', OUTER);
    dir.write('failing.js', FAILING);
    origin = await echo();
    proxy = await startProxy({
      admin: { listen: '127.0.0.1:0' },
      plugins: { dir: dir.dir, watch: false },
      reverse: [{
        routes: [
          { name: 'direct', match: { path_prefix: '/direct' }, respond: { status: 200, body: 'direct answer' }, plugins: ['outer.js'] },
          { name: 'closed', match: { path_prefix: '/closed' }, pool: 'app', strip_prefix: true, plugins: ['failing.js'] },
          { name: 'open', match: { path_prefix: '/open' }, pool: 'app', strip_prefix: true, plugins: [{ file: 'failing.js', on_error: 'fail_open' }] },
          { name: 'main', match: {}, pool: 'app', plugins: ['outer.js', { file: 'filter.js', options: { x: 1 } }] },
        ],
      }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
  });
  after(async () => { await proxy.close(); await origin.close(); dir.remove(); });

  it('deny answers with the plugin\'s status and reason, Proxy-Status and the request id', async () => {
    const res = await fetch(`${proxy.url()}/deny`);
    expect(res.status).to.equal(429);
    expect(res.headers.get('proxy-status')).to.match(/^gatehouse; error=http_request_denied; details="slow down"/);
    const id = res.headers.get('x-request-id')!;
    const body = await res.text();
    expect(body).to.contain('429 Too Many Requests: slow down').and.contain(id);
    expect(origin.seen.some((r) => r.url === '/deny')).to.equal(false);
  });

  it('respond answers directly; only the filters before it see the response', async () => {
    const res = await fetch(`${proxy.url()}/respond`);
    expect(res.status).to.equal(418);
    expect(await res.text()).to.equal('short and stout');
    expect(res.headers.get('x-teapot')).to.equal('yes');
    expect(res.headers.getSetCookie()).to.deep.equal(['a=1', 'b=2']);
    expect(res.headers.get('x-request-id')).to.match(/\S/);
    expect(res.headers.get('x-outer')).to.equal('yes');
    expect(res.headers.get('x-filtered')).to.equal(null);
    expect(origin.seen.some((r) => r.url === '/respond')).to.equal(false);
  });

  it('rewrites the path (keeping the query) and request headers; the origin sees the result', async () => {
    const res = await fetch(`${proxy.url()}/old/thing?q=1`, { headers: { 'x-user': 'ann', 'x-secret': 's3cr3t' } });
    expect(res.status).to.equal(200);
    const seen = await res.json() as { url: string; headers: Record<string, string> };
    expect(seen.url).to.equal('/new/thing?q=1');
    expect(seen.headers['x-plugin']).to.equal('yes');
    expect(seen.headers['x-seen-user']).to.equal('ann');
    expect(seen.headers['x-outer-saw-path']).to.equal('/old/thing');
    expect(seen.headers).to.not.have.property('x-secret');
  });

  it('onResponse hooks run in reverse order: headers set and removed, status changed', async () => {
    const res = await fetch(`${proxy.url()}/plain`);
    expect(res.headers.get('server')).to.equal(null);
    expect(res.headers.get('x-filtered')).to.equal('inner');
    expect(res.headers.get('x-outer-saw')).to.equal('inner');
    expect(res.headers.get('x-request-id')).to.match(/\S/);
    const accepted = await fetch(`${proxy.url()}/accepted`);
    expect(accepted.status).to.equal(202);
    expect(await accepted.json()).to.have.property('url', '/accepted');
  });

  it('a route\'s plugins apply to its respond answer too', async () => {
    const res = await fetch(`${proxy.url()}/direct`);
    expect(res.status).to.equal(200);
    expect(await res.text()).to.equal('direct answer');
    expect(res.headers.get('x-outer')).to.equal('yes');
  });

  it('fail_closed answers 503 naming the plugin (not its message); fail_open continues', async () => {
    const closed = await fetch(`${proxy.url()}/closed/boom`);
    expect(closed.status).to.equal(503);
    expect(closed.headers.get('proxy-status')).to.equal('gatehouse; error=proxy_internal_error; details="plugin failing failed (throw)"');
    const text = await closed.text();
    expect(text).to.not.contain('secret internals');
    const id = closed.headers.get('x-request-id');
    const line = proxy.logs.find((l) => l.msg === 'plugin failed' && l.reqId === id);
    expect(line).to.include({ plugin: 'failing', hook: 'onRequest', kind: 'throw', on_error: 'fail_closed' });

    const open = await fetch(`${proxy.url()}/open/boom`);
    expect(open.status).to.equal(200);
    expect((await open.json() as { url: string }).url).to.equal('/boom');
  });

  it('an onResponse failure under fail_closed replaces the response with a 503', async () => {
    const res = await fetch(`${proxy.url()}/closed/boom-late`);
    expect(res.status).to.equal(503);
    expect(res.headers.get('proxy-status')).to.contain('plugin failing failed (throw)');
    expect(await res.text()).to.contain('503 Service Unavailable');
    const open = await fetch(`${proxy.url()}/open/boom-late`);
    expect(open.status).to.equal(200);
    // the connection is still usable after a replaced response
    expect((await fetch(`${proxy.url()}/plain`)).status).to.equal(200);
  });

  it('/status lists the plugins with versions and counts; /metrics has the plugin series', async () => {
    const status = await (await fetch(`${proxy.adminUrl()}/status`)).json() as { plugins: Record<string, unknown>[] };
    const names = status.plugins.map((p) => p.name).sort();
    expect(names).to.deep.equal(['failing', 'failing#2', 'filter', 'outer']);
    const filter = status.plugins.find((p) => p.name === 'filter')!;
    expect(filter.version).to.match(/^[0-9a-f]{12}$/);
    expect(filter.state).to.equal('active');
    expect((filter.calls as { onRequest: { ok: number } }).onRequest.ok).to.be.greaterThan(0);
    const failing = status.plugins.find((p) => p.name === 'failing')!;
    expect(failing.errors).to.be.greaterThan(0);
    const metrics = await (await fetch(`${proxy.adminUrl()}/metrics`)).text();
    expect(metrics).to.match(/gatehouse_plugin_calls_total\{plugin="filter",hook="onRequest",outcome="ok"\} \d+/);
    expect(metrics).to.match(/gatehouse_plugin_calls_total\{plugin="failing",hook="onRequest",outcome="throw"\} \d+/);
    expect(metrics).to.match(/gatehouse_plugin_duration_seconds_count\{plugin="filter",hook="onRequest"\} \d+/);
    expect(metrics).to.match(/gatehouse_plugin_heap_bytes\{plugin="filter"\} [1-9]\d*/);
  });

  it('120 concurrent requests, sent to the plugin process in batches, each get their own decision', async () => {
    const agent = loadAgent(60);
    const before = await pluginStatus(proxy, 'filter');
    try {
      const kinds = ['deny', 'respond', 'old', 'plain'] as const;
      const shots = await runLoad(120, 60, (i) => {
        const kind = kinds[i % kinds.length]!;
        const path = kind === 'deny' ? '/deny' : kind === 'respond' ? '/respond' : kind === 'old' ? `/old/${i}` : `/plain/${i}`;
        return shoot(agent, `${proxy.url()}${path}`, { headers: { 'x-user': `user-${i}` } }).then((shot) => ({ i, kind, shot }));
      });
      for (const { i, kind, shot } of shots) {
        if (kind === 'deny') expect(shot.status, `request ${i}`).to.equal(429);
        else if (kind === 'respond') expect([shot.status, shot.body], `request ${i}`).to.deep.equal([418, 'short and stout']);
        else {
          expect(shot.status, `request ${i}`).to.equal(200);
          const seen = JSON.parse(shot.body) as { url: string; headers: Record<string, string> };
          expect(seen.url).to.equal(kind === 'old' ? `/new/${i}` : `/plain/${i}`);
          expect(seen.headers['x-outer-saw-path']).to.equal(kind === 'old' ? `/old/${i}` : `/plain/${i}`);
          if (kind === 'old') expect(seen.headers['x-seen-user']).to.equal(`user-${i}`);
        }
      }
      const after = await pluginStatus(proxy, 'filter');
      const calls = after.calls.onRequest.ok - (before.calls.onRequest.ok ?? 0);
      expect(calls).to.equal(120);
    } finally {
      await agent.close();
    }
  });
});

describe('plugins e2e: the shipped examples', function () {
  this.timeout(30_000);

  it('security-headers rewrites both ways and route-by-ip sends loopback clients to another pool', async () => {
    const app = await echo();
    const internal = await startOrigin((req, res) => { req.resume(); res.writeHead(200, { server: 'internal', 'x-powered-by': 'php' }); res.end(JSON.stringify({ pool: 'internal', headers: req.headers })); });
    const proxy = await startProxy({
      plugins: { dir: resolve('plugins'), watch: false },
      reverse: [{ routes: [{ match: {}, pool: 'app', plugins: [
        'examples/security-headers.js',
        { file: 'examples/route-by-ip.js', options: { rules: [{ cidr: '127.0.0.0/8', pool: 'internal' }] } },
      ] }] }],
      pools: { app: { upstreams: [{ url: app.url }] }, internal: { upstreams: [{ url: internal.url }] } },
    });
    try {
      const res = await fetch(proxy.url(), { headers: { 'x-debug': '1' } });
      const seen = await res.json() as { pool: string; headers: Record<string, string> };
      expect(seen.pool).to.equal('internal');
      expect(seen.headers['x-client-ip']).to.equal('127.0.0.1');
      expect(seen.headers).to.not.have.property('x-debug');
      expect(res.headers.get('server')).to.equal(null);
      expect(res.headers.get('x-powered-by')).to.equal(null);
      expect(res.headers.get('x-frame-options')).to.equal('DENY');
      expect(app.seen).to.have.length(0);
    } finally {
      await proxy.close();
      await Promise.all([app.close(), internal.close()]);
    }
  });
});
