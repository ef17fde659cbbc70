/** Several Gatehouse instances sharing one real redis-server: what holds across the fleet, and what happens when Redis dies. */
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, ConfigError } from '../../src/config/load.js';
import { createCa, issueLeaf } from '../../src/tls/dev-certs.js';
import { runCli } from '../helpers/cli.js';
import { freePort, OWN_HOST, ownAddress, ownUrl } from '../helpers/addresses.js';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { loadAgent, runLoad, shoot, waitFor } from '../helpers/load.js';
import { requireRedisServer, startRedis, type TestRedis } from '../helpers/redis.js';

describe('e2e: a fleet sharing Redis', function () {
  this.timeout(60_000);
  const agent = loadAgent();
  let redis: TestRedis | undefined;
  let origins: Origin[] = [];
  let proxies: TestProxy[] = [];
  let prefixSeq = 0;

  before(function () { requireRedisServer(this); });
  beforeEach(async () => { redis ??= await startRedis(); });
  afterEach(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(origins.map((o) => o.close()));
    proxies = [];
    origins = [];
  });
  after(async () => { await redis?.stop(); await agent.close(); });

  /** Starts `n` instances of the same config on the same Redis; each test gets its own key prefix. */
  async function fleet(n: number, config: Record<string, unknown>, shared: Record<string, unknown> = {}): Promise<TestProxy[]> {
    const prefix = `t${++prefixSeq}:`;
    const started: TestProxy[] = [];
    for (let i = 0; i < n; i++) {
      started.push(await startProxy({
        ...config, node_id: `gh-${i}`, admin: { listen: '127.0.0.1:0', token: 't0ken' },
        // wide budget: on a loaded machine a tight one would make instances decide locally, which is correct but not what is tested
        shared: { redis: redis!.url, key_prefix: prefix, timeout: '5s', ...shared },
      }));
    }
    proxies.push(...started);
    return started;
  }
  const admin = (p: TestProxy, method: string, path: string, body?: unknown) =>
    fetch(`${p.adminUrl()}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { authorization: 'Bearer t0ken' } });
  const upstreamsOf = (p: TestProxy, pool = 'app') => p.gateway.pools.get(pool)!.upstreams.map((u) => `${u.id} w${u.configuredWeight}`);
  const metric = async (p: TestProxy, name: string) => {
    const text = await (await fetch(`${p.adminUrl()}/metrics`)).text();
    return text.split('\n').filter((l) => l.startsWith(name)).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  };

  it('a per-IP rate limit holds across three instances', async () => {
    origins = [await startOrigin('ok')];
    const rate = 2;
    const members = await fleet(3, {
      reverse: [{ routes: [{ match: {}, pool: 'app' }] }], pools: { app: { upstreams: [{ url: origins[0]!.url }] } }, limits: { rate: { per_ip: rate } },
    });
    const t0 = performance.now();
    const results = await runLoad(24, 3, (i) => shoot(agent, `${members[i % 3]!.url()}/r${i}`));
    const seconds = (performance.now() - t0) / 1000;
    const allowed = results.filter((r) => r.status === 200).length;
    expect(results.filter((r) => r.status !== 200 && r.status !== 429), 'only 200 or 429').to.deep.equal([]);
    // one bucket for the fleet: its burst plus what refilled while the test ran (each instance alone would allow 3 × that)
    expect(allowed).to.be.within(1, rate + Math.ceil(rate * seconds));
    expect(origins[0]!.seen.length).to.equal(allowed);
    for (const m of members) expect(await metric(m, 'gatehouse_shared_fallbacks_total'), 'no local decision').to.equal(0);
  });

  it('a purge on one instance empties the cache of all', async () => {
    let version = 0;
    origins = [await startOrigin((req, res: ServerResponse) => { req.resume(); res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end(`v${++version}`); })];
    const members = await fleet(3, {
      reverse: [{ routes: [{ match: {}, pool: 'app', cache: true }] }], pools: { app: { upstreams: [{ url: origins[0]!.url }] } },
    });
    // one site name for the fleet, as behind a balancer (each instance listens on its own port here)
    const host = { host: 'site.example' };
    for (const m of members) { await shoot(agent, `${m.url()}/page`, { headers: host }); await shoot(agent, `${m.url()}/other`, { headers: host }); }
    expect(origins[0]!.seen.length, 'each instance filled its own cache').to.equal(6);
    for (const m of members) expect(await waitFor(() => m.gateway.cache.stats().entries === 2, 15_000), 'both stored').to.equal(true);

    const purge = await admin(members[0]!, 'POST', '/cache/purge', { prefix: '/page' });
    expect(purge.status).to.equal(200);
    for (const m of members) expect(await waitFor(() => m.gateway.cache.stats().entries === 1, 15_000), 'purged everywhere').to.equal(true);
    // the PURGE method spreads the same way
    const r = await shoot(agent, `${members[2]!.url()}/other`, { method: 'PURGE', headers: host });
    expect(r.status).to.equal(200);
    for (const m of members) expect(await waitFor(() => m.gateway.cache.stats().entries === 0, 15_000), 'PURGE spread').to.equal(true);
    expect(await waitFor(() => members[1]!.logs.some((l) => l.msg === 'cache purged' && l.source === 'fleet'), 15_000)).to.equal(true);
  });

  it('pool changes from the admin API spread, reach a late instance, and a reload drops them with a log line', async () => {
    origins = await Promise.all([startOrigin('a'), startOrigin('b'), startOrigin('c')]);
    const [a, b, c] = origins as [Origin, Origin, Origin];
    const config = { reverse: [{ routes: [{ match: {}, pool: 'app' }] }], pools: { app: { upstreams: [{ url: a.url }, { url: b.url }] } } };
    const [one, two] = await fleet(2, config);
    expect((await admin(one!, 'POST', '/pools/app/upstreams', { url: c.url, weight: 2 })).status).to.equal(201);
    expect(await waitFor(() => upstreamsOf(two!).includes(`${c.url} w2`), 15_000), 'add spread').to.equal(true);
    expect((await admin(two!, 'PATCH', `/pools/app/upstreams?url=${encodeURIComponent(c.url)}`, { weight: 3 })).status).to.equal(200);
    expect(await waitFor(() => upstreamsOf(one!).includes(`${c.url} w3`), 15_000), 'weight spread').to.equal(true);
    expect((await admin(two!, 'DELETE', `/pools/app/upstreams?url=${encodeURIComponent(a.url)}`)).status).to.equal(200);
    expect(await waitFor(() => upstreamsOf(one!).join() === [`${b.url} w1`, `${c.url} w3`].join(), 15_000), 'removal spread').to.equal(true);

    // an instance started later replays the changes recorded in Redis
    const [late] = await fleet(1, config, { key_prefix: one!.gateway.config.shared.key_prefix });
    expect(upstreamsOf(late!)).to.deep.equal([`${b.url} w1`, `${c.url} w3`]);
    const answers = await runLoad(40, 4, () => shoot(agent, `${late!.url()}/`));
    expect(new Set(answers.map((r) => r.body))).to.deep.equal(new Set(['b', 'c']));

    // a reload applies the file and says which run-time changes it dropped
    await one!.gateway.reload(one!.gateway.config);
    expect(upstreamsOf(one!)).to.deep.equal([`${a.url} w1`, `${b.url} w1`]);
    const dropped = one!.logs.find((l) => l.msg === 'reload applies the config file: run-time pool changes dropped');
    expect((dropped?.dropped as { op: string; url: string }[]).map((d) => `${d.op} ${d.url}`).sort()).to.deep.equal([`add ${c.url}`, `remove ${a.url}`]);
  });

  it('ip sticky tables are shared: a client keeps its upstream whichever instance it reaches', async () => {
    origins = await Promise.all(['a', 'b', 'c'].map((n) => startOrigin(n)));
    const members = await fleet(2, {
      reverse: [{ routes: [{ match: {}, pool: 'app' }] }],
      pools: { app: { balance: 'round_robin', sticky: { mode: 'ip' }, upstreams: origins.map((o) => ({ url: o.url })) } },
    });
    // clients told apart by X-Forwarded-For (loopback is a trusted proxy)
    const clients = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'];
    const via = async (m: TestProxy, ip: string) => (await shoot(agent, `${m.url()}/`, { headers: { 'x-forwarded-for': ip } })).body;
    const first: string[] = [];
    for (const ip of clients) first.push(await via(members[0]!, ip));
    expect(new Set(first).size, 'round robin spread the clients').to.equal(3);
    const second: string[] = [];
    for (const ip of [...clients].reverse()) second.unshift(await via(members[1]!, ip));
    expect(second).to.deep.equal(first);
  });

  it('Redis killed mid-load: no request lost, the outage logged once and counted, state resyncs when it returns', async () => {
    origins = await Promise.all([startOrigin('a'), startOrigin('b'), startOrigin('c')]);
    const [a, b, c] = origins as [Origin, Origin, Origin];
    const config = {
      reverse: [{ routes: [{ match: {}, pool: 'app' }] }], limits: { rate: { per_ip: 1_000_000 } },
      pools: { app: { sticky: { mode: 'ip' }, upstreams: [{ url: a.url }, { url: b.url }] } },
    };
    const members = await fleet(2, config);
    let done = 0;
    const load = runLoad(1200, 8, async (i) => {
      const r = await shoot(agent, `${members[i % 2]!.url()}/`, { headers: { 'x-forwarded-for': `10.1.${i % 50}.1` } });
      done++;
      return r;
    });
    await waitFor(() => done > 300, 15_000, 5);
    await redis!.kill();
    const results = await load;
    expect(results.filter((r) => r.status !== 200), 'lost requests').to.deep.equal([]);
    for (const m of members) {
      expect(await waitFor(() => m.logs.some((l) => l.msg?.toString().startsWith('shared state unavailable')), 15_000)).to.equal(true);
      expect(m.logs.filter((l) => l.msg?.toString().startsWith('shared state unavailable')), 'logged once').to.have.length(1);
      expect(await metric(m, 'gatehouse_shared_fallbacks_total'), 'local decisions counted').to.be.above(0);
      expect(await metric(m, 'gatehouse_shared_up')).to.equal(0);
    }
    // a change made while Redis is down reaches the other instance once it is back
    expect((await admin(members[0]!, 'POST', '/pools/app/upstreams', { url: c.url })).status).to.equal(201);
    await redis!.restart();
    for (const m of members) expect(await waitFor(() => m.logs.some((l) => l.msg === 'shared state is back; resyncing'), 15_000), 'back').to.equal(true);
    expect(await waitFor(() => upstreamsOf(members[1]!).includes(`${c.url} w1`), 15_000), 'change made during the outage spread').to.equal(true);
    expect(await metric(members[0]!, 'gatehouse_shared_up')).to.equal(1);
  });

  it('workers and instances combine: a 2-worker instance (the real CLI) and another instance share one bucket and one pool', async () => {
    origins = await Promise.all([startOrigin('a'), startOrigin('b')]);
    const [a, b] = origins as [Origin, Origin];
    const prefix = `t${++prefixSeq}:`;
    const config = { reverse: [{ routes: [{ match: {}, pool: 'app' }] }], pools: { app: { upstreams: [{ url: a.url }] } }, limits: { rate: { per_ip: 2 } } };
    const port = await freePort();
    const adminPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'gh-fleet-cli-'));
    writeFileSync(join(dir, 'gatehouse.json'), JSON.stringify({
      ...config, node_id: 'gh-cli', workers: 2, shutdown_timeout: '2s', admin: { listen: ownAddress(adminPort) },
      reverse: [{ ...config.reverse[0], listen: ownAddress(port) }], shared: { redis: redis!.url, key_prefix: prefix, timeout: '5s' },
    }));
    const cli = runCli(['--config', join(dir, 'gatehouse.json')]);
    try {
      const admin = ownUrl(adminPort);
      const started = await waitFor(async () => {
        const s = await fetch(`${admin}/status`).then((r) => r.json() as Promise<{ workers_running?: number }>, () => undefined);
        return s?.workers_running === 2;
      }, 30_000, 100);
      expect(started, 'cluster started').to.equal(true);
      const [other] = await fleet(1, config, { key_prefix: prefix });
      // a fresh connection per request, so the cluster hands them to both workers
      const fresh = async (url: string) => (await fetch(url, { headers: { connection: 'close' } }).then(async (r) => { await r.text(); return r.status; }));
      const t0 = performance.now();
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push(await fresh(i % 3 === 2 ? `${other!.url()}/` : `${ownUrl(port)}/`));
      const seconds = (performance.now() - t0) / 1000;
      expect(statuses.filter((s) => s !== 200 && s !== 429)).to.deep.equal([]);
      // three members (two workers, one instance), one bucket
      expect(statuses.filter((s) => s === 200).length).to.be.at.most(2 + Math.ceil(2 * seconds));

      const added = await fetch(`${admin}/pools/app/upstreams`, { method: 'POST', body: JSON.stringify({ url: b.url }) });
      expect(added.status).to.equal(201);
      expect(await waitFor(() => upstreamsOf(other!).includes(`${b.url} w1`), 15_000), 'a change on the cluster reached the other instance').to.equal(true);
    } finally {
      cli.child.kill('SIGTERM');
      await cli.output;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Redis hung: requests wait no longer than shared.timeout, are decided locally, and the slowness is logged and counted', async () => {
    origins = [await startOrigin('ok')];
    const [m] = await fleet(1, {
      reverse: [{ routes: [{ match: {}, pool: 'app' }] }], pools: { app: { upstreams: [{ url: origins[0]!.url }] } }, limits: { rate: { per_ip: 1_000_000 } },
    }, { timeout: '300ms' });
    redis!.pause();
    try {
      const t0 = performance.now();
      const results = await runLoad(20, 4, () => shoot(agent, `${m!.url()}/`));
      const perRequest = (performance.now() - t0) / 5; // 20 requests, 4 at a time: 5 rounds
      expect(results.filter((r) => r.status !== 200)).to.deep.equal([]);
      // each waited about the budget (300 ms), never for Redis itself (paused: it never answers): a wide
      // bound, for a loaded machine
      expect(perRequest).to.be.below(10_000);
      expect(await metric(m!, 'gatehouse_shared_fallbacks_total')).to.be.at.least(20);
      expect(m!.logs.filter((l) => String(l.msg).startsWith('shared state slower than shared.timeout'))).to.have.length(1);
    } finally {
      redis!.resume();
    }
  });

  it('AUTH and TLS: a rediss:// URL with a password and a private CA; a wrong password leaves the instance on local state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-redis-tls-'));
    const ca = createCa({ commonName: 'Test Redis CA' });
    const leaf = issueLeaf([OWN_HOST], ca);
    for (const [name, pem] of [['ca.pem', ca.certPem], ['redis.pem', leaf.certPem], ['redis.key', leaf.keyPem]]) writeFileSync(join(dir, name!), pem!);
    const secure = await startRedis([
      '--tls-cert-file', join(dir, 'redis.pem'), '--tls-key-file', join(dir, 'redis.key'), '--tls-ca-cert-file', join(dir, 'ca.pem'),
      '--tls-auth-clients', 'no', '--requirepass', 's3cret',
    ], { tlsPort: true });
    try {
      origins = [await startOrigin('ok')];
      const config = { reverse: [{ routes: [{ match: {}, pool: 'app' }] }], pools: { app: { upstreams: [{ url: origins[0]!.url }] } }, limits: { rate: { per_ip: 1 } } };
      const url = secure.url.replace('rediss://', 'rediss://default:s3cret@');
      const members = await fleet(2, config, { redis: url, tls_ca: join(dir, 'ca.pem') });
      for (const m of members) expect(m.gateway.fleet!.state.up, 'linked over TLS with AUTH').to.equal(true);
      const statuses = [];
      const t0 = performance.now();
      for (const m of [...members, ...members]) statuses.push((await shoot(agent, `${m.url()}/`)).status);
      const seconds = (performance.now() - t0) / 1000;
      expect(statuses.filter((s) => s === 200).length, 'one bucket across both').to.be.at.most(1 + Math.ceil(seconds));

      const [wrong] = await fleet(1, config, { redis: secure.url.replace('rediss://', 'rediss://default:nope@'), tls_ca: join(dir, 'ca.pem') });
      expect(wrong!.gateway.fleet!.state.up).to.equal(false);
      expect(await waitFor(() => wrong!.logs.some((l) => l.msg?.toString().startsWith('shared state unavailable')), 15_000)).to.equal(true);
      expect(wrong!.logs.filter((l) => l.msg?.toString().startsWith('shared state unavailable'))).to.have.length(1);
      expect((await shoot(agent, `${wrong!.url()}/`)).status, 'serves on local state').to.equal(200);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
      proxies = [];
      await secure.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('shared.redis must be a redis:// or rediss:// URL (the error names the key)', () => {
    let problem = '';
    try { buildConfig({ shared: { redis: 'http://127.0.0.1:6379' } }, { env: {} }); } catch (e) { problem = (e as ConfigError).message; }
    expect(problem).to.match(/shared\.redis/).and.match(/redis:\/\/ or rediss:\/\//);
  });
});
