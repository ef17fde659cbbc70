import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { startOrigin, type Origin } from '../helpers/loopback.js';
import { listening, runCli, type CliRun } from '../helpers/cli.js';
import { freePort, OWN_HOST, ownAddress, ownUrl } from '../helpers/addresses.js';

const run = (file: string): CliRun => runCli(['--config', file]);

/** One request on its own connection: the cluster balances connections, not requests. */
function fresh(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet({ host: OWN_HOST, port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject);
  });
}

async function many(port: number, n: number): Promise<string[]> {
  const bodies: string[] = [];
  for (let i = 0; i < n; i += 20) {
    const batch = await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => fresh(port)));
    for (const r of batch) { expect(r.status).to.equal(200); bodies.push(r.body); }
  }
  return bodies;
}

type Upstream = { url: string; requests: number };
type WorkerStatus = { worker: number; pid: number; pools: { app: { upstreams: Upstream[] } } };
type ClusterStatus = { workers_running: number; workers: WorkerStatus[]; summary: { pools: { app: { upstreams: Upstream[] } } } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cluster mode (workers: 2)', function () {
  this.timeout(30000);
  const dir = mkdtempSync(join(tmpdir(), 'gh-cluster-'));
  const answer = (name: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    req.resume();
    if (req.url === '/slow') setTimeout(() => res.end('slow answer'), 800);
    else res.end(name);
  };
  let a: Origin;
  let b: Origin;
  let port: number;
  let admin: string;
  let proxy: CliRun;
  const status = async () => (await (await fetch(`${admin}/status`)).json()) as ClusterStatus;
  const config = (extra = '') => [
    'node_id: gh-cluster', 'workers: 2', 'shutdown_timeout: 5s', `admin: { listen: "${new URL(admin).host}" }`,
    `reverse: [{ listen: "${ownAddress(port)}", routes: [${extra}{ match: {}, pool: app }] }]`,
    `pools: { app: { upstreams: [{ url: "${a.url}" }] } }`, '',
  ].join('\n');

  before(async () => {
    a = await startOrigin(answer('A'));
    b = await startOrigin(answer('B'));
    port = await freePort();
    admin = ownUrl(await freePort());
    writeFileSync(join(dir, 'cluster.yaml'), config());
    proxy = run(join(dir, 'cluster.yaml'));
    for (let i = 0; i < 200; i++) {
      const s = await status().catch(() => undefined);
      if (s?.workers_running === 2) return;
      await sleep(50);
    }
    throw new Error(`cluster did not start: ${(await Promise.race([proxy.output, sleep(10)]) as { stderr?: string } | undefined)?.stderr ?? ''}`);
  });
  after(async () => {
    if (proxy.child.exitCode === null) proxy.child.kill('SIGKILL');
    await Promise.all([a.close(), b.close()]);
  });

  it('spreads connections over both workers, and /status reports each one and their sum', async () => {
    await many(port, 200);
    const s = await status();
    expect(s.workers).to.have.length(2);
    const counts = s.workers.map((w) => w.pools.app.upstreams[0]!.requests);
    expect(counts.every((n) => n > 0), `per-worker requests ${counts}`).to.equal(true);
    expect(counts[0]! + counts[1]!).to.equal(200);
    expect(s.summary.pools.app.upstreams[0]!.requests).to.equal(200);
    expect(new Set(s.workers.map((w) => w.pid)).size).to.equal(2);
  });

  it('/metrics sums gatehouse_requests_total across workers', async () => {
    const text = await (await fetch(`${admin}/metrics`)).text();
    const total = text.split('\n').filter((l) => l.startsWith('gatehouse_requests_total{'))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    expect(total).to.equal(200);
    expect(text).to.match(/^gatehouse_cluster_workers 2$/m);
    expect(text).to.match(/^gatehouse_upstream_healthy\{.*\} 1$/m);
  });

  it('applies admin pool changes in every worker, and replays them to a replacement worker', async () => {
    const added = await fetch(`${admin}/pools/app/upstreams`, { method: 'POST', body: JSON.stringify({ url: b.url }) });
    expect(added.status).to.equal(201);
    const drained = await fetch(`${admin}/pools/app/upstreams?url=${encodeURIComponent(a.url)}`, { method: 'DELETE' });
    expect(drained.status).to.equal(200);
    // Whichever worker answers, it now knows only B.
    expect(new Set(await many(port, 40))).to.deep.equal(new Set(['B']));
    const s = await status();
    for (const w of s.workers) expect(w.pools.app.upstreams.map((u) => u.url)).to.deep.equal([b.url]);
    expect(s.workers.every((w) => w.pools.app.upstreams[0]!.requests > 0)).to.equal(true);

    const victim = s.workers[0]!;
    process.kill(victim.pid, 'SIGKILL');
    // admin calls fanned out while the worker dies: answered, and the primary keeps running
    const during = await Promise.all(Array.from({ length: 20 }, () => fetch(`${admin}/status`).then((r) => r.status)));
    expect(during.every((code) => code === 200)).to.equal(true);
    let replaced: WorkerStatus | undefined;
    for (let i = 0; i < 200 && !replaced; i++) {
      await sleep(50);
      const now = await status();
      if (now.workers_running === 2) replaced = now.workers.find((w) => w.pid !== victim.pid && w.pid !== s.workers[1]!.pid);
    }
    expect(replaced, 'a replacement worker').to.not.equal(undefined);
    expect(replaced!.pools.app.upstreams.map((u) => u.url)).to.deep.equal([b.url]);
    expect(new Set(await many(port, 20))).to.deep.equal(new Set(['B']));
  });

  it('POST /reload validates first, then reloads every worker', async () => {
    writeFileSync(join(dir, 'cluster.yaml'), `${config()}colour: blue\n`);
    const refused = await fetch(`${admin}/reload`, { method: 'POST' });
    expect(refused.status).to.equal(422);
    expect(((await refused.json()) as { problems: string[] }).problems).to.deep.equal(['colour: unknown key']);
    expect(new Set(await many(port, 20))).to.deep.equal(new Set(['B']));

    writeFileSync(join(dir, 'cluster.yaml'), config('{ match: { path_prefix: /hello }, respond: { status: 200, body: reloaded } }, '));
    const ok = await fetch(`${admin}/reload`, { method: 'POST' });
    expect(ok.status).to.equal(200);
    const hellos = await Promise.all(Array.from({ length: 20 }, () => fresh(port, '/hello')));
    expect(new Set(hellos.map((r) => r.body))).to.deep.equal(new Set(['reloaded']));
    // A reload ends runtime pool changes (as in one process): the config's upstream A again.
    expect(new Set(await many(port, 20))).to.deep.equal(new Set(['A']));
  });

  it('SIGTERM drains an in-flight request in a worker, then the primary exits 0', async () => {
    const inflight = fresh(port, '/slow');
    for (let i = 0; i < 400 && ![...a.seen, ...b.seen].some((r) => r.url === '/slow'); i++) await sleep(50);
    proxy.child.kill('SIGTERM');
    expect(await inflight).to.deep.equal({ status: 200, body: 'slow answer' });
    const result = await proxy.output;
    expect(result.code, result.stderr).to.equal(0);
    expect(await listening(port)).to.equal(false);
    const lines = result.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.msg === 'stopped' && typeof l.worker === 'number')).to.have.length(2);
    expect(lines.find((l) => l.path === '/slow')).to.include({ node: 'gh-cluster' }).and.to.have.property('worker');
  });

  it('an invalid config exits 1 with key: message lines before any port opens', async () => {
    const reversePort = await freePort();
    const adminPort = await freePort();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `workers: 2\nadmin: { listen: "${ownAddress(adminPort)}" }\nreverse: [{ listen: "${ownAddress(reversePort)}", routes: [{ match: {}, pool: ghost }] }]\n`);
    const bad = run(file);
    let sawListener = false;
    const probe = setInterval(() => { void Promise.all([listening(reversePort), listening(adminPort)]).then((up) => { sawListener ||= up.some(Boolean); }); }, 20);
    const result = await bad.output;
    clearInterval(probe);
    expect(result.code).to.equal(1);
    expect(result.stderr.trim()).to.equal('reverse[0].routes[0].pool: unknown pool "ghost"');
    expect(sawListener).to.equal(false);
  });

  it('exits 1 with one clear line when a worker cannot listen', async () => {
    const holder = createNetServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const taken = (holder.address() as AddressInfo).port;
    const file = join(dir, 'taken.yaml');
    writeFileSync(file, `workers: 2\nadmin: { listen: "" }\nreverse: [{ listen: "127.0.0.1:${taken}", routes: [{ match: {}, respond: { status: 200 } }] }]\n`);
    const result = await run(file).output;
    holder.close();
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/reverse\[0\]: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  });
});
