import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.js';
import { runtimeProblems } from '../../src/checks/runtime-checks.js';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { freePort, ownAddress, ownUrl, refusedUrl } from '../helpers/addresses.js';
import { CLI } from '../helpers/cli.js';
import { PluginDir } from '../unit/plugins/plugin-fixtures.js';
import { waitFor } from '../helpers/load.js';

const version = (v: string) => `export function onRequest() { return { set_headers: { 'x-version': '${v}' } }; }
export function onResponse() { return { set_headers: { 'x-version': '${v}' } }; }`;
const BROKEN = 'export function onRequest( { return 1; }';

/**
 * Requests in a loop from `workers` clients until stopped; every answer that is not a 200 through some version
 * is a failure. (A request in flight during a swap may meet the old onRequest and the new onResponse.)
 */
function load(url: string, workers = 4) {
  let stop = false;
  const failures: string[] = [];
  const versions: string[] = [];
  const run = async () => {
    while (!stop) {
      try {
        const res = await fetch(url);
        const body = await res.text();
        const v = res.headers.get('x-version') ?? '';
        if (res.status !== 200 || !/^origin saw v\d+$/.test(body) || !/^v\d+$/.test(v)) failures.push(`${res.status} ${v} ${body}`);
        versions.push(v);
      } catch (e) {
        failures.push(String(e));
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, run));
  return { failures, versions, stop: async () => { stop = true; await done; } };
}

describe('plugins e2e: hot reload', function () {
  this.timeout(60_000);
  const dir = new PluginDir();
  let origin: Origin;
  let proxy: TestProxy;
  const current = async () => (await fetch(proxy.url())).headers.get('x-version');

  before(async () => {
    dir.write('versioned.js', version('v0'));
    origin = await startOrigin((req, res) => { req.resume(); res.end(`origin saw ${req.headers['x-version']}`); });
    proxy = await startProxy({
      // watch on (the default): file events and reload() race, as in production; a hook call on a loaded
      // machine must never reach a limit here (limits are not the subject): seconds of wall and CPU time
      plugins: { dir: dir.dir, timeout: '10s', cpu_limit: '5s' },
      reverse: [{ routes: [{ match: {}, pool: 'app', plugins: ['versioned.js'] }] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
  });
  after(async () => { await proxy.close(); await origin.close(); dir.remove(); });

  it('swaps versions under load with zero failed requests; the new behaviour is visible after', async () => {
    const traffic = load(proxy.url());
    // each swap happens while requests flow: wait for answers through the current version before the next one
    const answeredWith = (v: string, n: number) => waitFor(() => traffic.versions.filter((x) => x === v).length >= n, 20_000);
    expect(await answeredWith('v0', 5), 'traffic through v0').to.equal(true);
    for (let i = 1; i <= 6; i++) {
      dir.write('versioned.js', version(`v${i}`));
      await proxy.gateway.reload(proxy.gateway.config);
      expect(await answeredWith(`v${i}`, 5), `traffic through v${i}`).to.equal(true);
    }
    await traffic.stop();
    expect(traffic.failures, traffic.failures.slice(0, 3).join('; ')).to.deep.equal([]);
    expect(new Set(traffic.versions).size).to.equal(7);
    expect(await current()).to.equal('v6');
    expect(proxy.gateway.plugins.list()[0]!.stats().state).to.equal('active');
  });

  it('a broken new version keeps the old one serving, logged; the fixed one is picked up', async () => {
    const traffic = load(proxy.url(), 2);
    dir.write('versioned.js', BROKEN);
    await proxy.gateway.reload(proxy.gateway.config);
    // the watcher tries too, while requests flow
    const seen = traffic.versions.length;
    expect(await waitFor(() => traffic.versions.length >= seen + 10, 20_000), 'traffic after the broken version').to.equal(true);
    await traffic.stop();
    expect(traffic.failures).to.deep.equal([]);
    expect(await current()).to.equal('v6');
    const line = proxy.logs.find((l) => l.msg === 'plugin reload failed; old version keeps serving');
    expect(line).to.have.property('plugin', 'versioned');
    expect(String(line!.err)).to.match(/versioned\.js:1:\d+: SyntaxError/);

    dir.write('versioned.js', version('v7'));
    await proxy.gateway.reload(proxy.gateway.config);
    expect(await current()).to.equal('v7');
  });

  it('the file watch alone reloads a changed plugin', async () => {
    dir.write('versioned.js', version('v8'));
    // a reload starts a new plugin process: allow a loaded machine its time
    expect(await waitFor(async () => (await current()) === 'v8', 30_000, 50), 'the watcher reloaded').to.equal(true);
  });

  it('changed plugin settings rebuild every plugin with them, under load, without a failed request', async () => {
    const traffic = load(proxy.url(), 2);
    expect(await waitFor(() => traffic.versions.length >= 5, 20_000), 'traffic before').to.equal(true);
    const before = proxy.gateway.plugins.list()[0];
    const next = buildConfig({
      node_id: 'gh-test', admin: { listen: '' },
      plugins: { dir: dir.dir, timeout: '20s', cpu_limit: '6s', memory_limit: '16MB' },
      reverse: [{ listen: proxy.gateway.config.reverse[0]!.listen, routes: [{ match: {}, pool: 'app', plugins: ['versioned.js'] }] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    }, { env: {} });
    await proxy.gateway.reload(next);
    const seen = traffic.versions.length;
    expect(await waitFor(() => traffic.versions.length >= seen + 5, 20_000), 'traffic after').to.equal(true);
    await traffic.stop();
    expect(traffic.failures).to.deep.equal([]);
    expect(proxy.gateway.plugins.list()[0]).to.not.equal(before);
    expect(await current()).to.equal('v8');
  });

  it('a reload whose config names a plugin that does not load is refused; the old config keeps serving', async () => {
    dir.write('other-broken.js', BROKEN);
    const next = buildConfig({
      node_id: 'gh-test', admin: { listen: '' },
      plugins: { dir: dir.dir },
      reverse: [{ listen: proxy.gateway.config.reverse[0]!.listen, routes: [{ match: {}, pool: 'app', plugins: ['versioned.js', 'other-broken.js'] }] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    }, { env: {} });
    let error: Error | undefined;
    try { await proxy.gateway.reload(next); } catch (e) { error = e as Error; }
    expect(error?.message).to.match(/^reverse\[0\]\.routes\[0\]\.plugins\[1\]: .*other-broken\.js:1:\d+: SyntaxError/);
    expect(await current()).to.equal('v8');
  });

  it('runtimeProblems (gatehouse check, startup) reports key: file:line: message', async () => {
    dir.write('fine.js', 'export function onRequest() {}');
    dir.write('throws-at-top.js', 'const x = 1;\nthrow new Error("nope");\n');
    const config = buildConfig({
      plugins: { dir: dir.dir },
      reverse: [{ listen: '127.0.0.1:0', routes: [
        { match: { path_prefix: '/a' }, pool: 'app', plugins: ['fine.js'] },
        { match: {}, pool: 'app', plugins: ['fine.js', 'other-broken.js', 'throws-at-top.js', 'missing.js'] },
      ] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    }, { env: {} });
    const problems = await runtimeProblems(config);
    expect(problems).to.have.length(3);
    expect(problems[0]).to.match(/^reverse\[0\]\.routes\[1\]\.plugins\[1\]: \S*other-broken\.js:1:\d+: SyntaxError/);
    expect(problems[1]).to.match(/^reverse\[0\]\.routes\[1\]\.plugins\[2\]: \S*throws-at-top\.js:2:\d+: .*nope/);
    expect(problems[2]).to.match(/^reverse\[0\]\.routes\[1\]\.plugins\[3\]: \S*missing\.js: cannot read/);
  });
});

describe('plugins e2e: the command line (startup refusal, SIGHUP, POST /reload)', function () {
  this.timeout(60_000);
  const dir = new PluginDir();
  const configFile = (port: number, admin: number, origin: string, plugin: string) => {
    const file = join(dir.dir, `config-${port}.yaml`);
    writeFileSync(file, `
node_id: cli-test
log: { level: warn }
admin: { listen: "${ownAddress(admin)}" }
plugins: { dir: ${JSON.stringify(dir.dir)}, watch: false, timeout: 10s, cpu_limit: 5s }
reverse:
  - listen: ${ownAddress(port)}
    routes:
      - { match: {}, pool: app, plugins: [${plugin}] }
pools:
  app: { upstreams: [{ url: "${origin}" }] }
`);
    return file;
  };
  const spawnCli = (args: string[]) => {
    const child = spawn(process.execPath, [...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += d; });
    return { child, stderr: () => stderr, exit: once(child, 'exit').then(([code]) => code as number) };
  };
  after(() => dir.remove());

  it('startup and check refuse a config whose plugin does not compile (exit 1, nothing listening)', async () => {
    dir.write('bad.js', BROKEN);
    const port = await freePort();
    const file = configFile(port, await freePort(), refusedUrl(), 'bad.js');
    const check = spawnCli(['check', '--config', file]);
    expect(await check.exit).to.equal(1);
    expect(check.stderr()).to.match(/^reverse\[0\]\.routes\[0\]\.plugins\[0\]: \S*bad\.js:1:\d+: SyntaxError/m);
    const run = spawnCli(['--config', file]);
    expect(await run.exit).to.equal(1);
    expect(run.stderr()).to.contain('bad.js:1:');
  });

  it('SIGHUP reloads a changed plugin; POST /reload refuses a broken one and the old version keeps serving', async () => {
    const origin = await startOrigin((req, res) => { req.resume(); res.end(`origin saw ${req.headers['x-version']}`); });
    dir.write('v.js', version('one'));
    const [port, admin] = [await freePort(), await freePort()];
    const run = spawnCli(['--config', configFile(port, admin, origin.url, 'v.js')]);
    try {
      const get = async () => { try { return (await fetch(`${ownUrl(port)}/`)).headers.get('x-version'); } catch { return null; } };
      expect(await waitFor(async () => (await get()) === 'one', 30_000, 100), 'started').to.equal(true);
      dir.write('v.js', version('two'));
      run.child.kill('SIGHUP');
      expect(await waitFor(async () => (await get()) === 'two', 30_000, 100), 'SIGHUP reloaded').to.equal(true);
      dir.write('v.js', BROKEN);
      const res = await fetch(`${ownUrl(admin)}/reload`, { method: 'POST' });
      expect(res.status).to.equal(422);
      const body = await res.json() as { problems: string[] };
      expect(body.problems[0]).to.match(/^reverse\[0\]\.routes\[0\]\.plugins\[0\]: \S*v\.js:1:\d+: SyntaxError/);
      expect(await get()).to.equal('two');
    } finally {
      run.child.kill('SIGTERM');
      await run.exit;
      await origin.close();
    }
  });
});
