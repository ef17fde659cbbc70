import { expect } from 'chai';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hashFormat, verifyPassword } from '../../src/forward/password-hash.js';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { spawn, spawnSync } from 'node:child_process';
import type { ServerResponse } from 'node:http';
import { startOrigin, type Origin } from '../helpers/loopback.js';
import { CLI, listening, runCli } from '../helpers/cli.js';
import { freePort, ownAddress, ownUrl } from '../helpers/addresses.js';

const run = runCli;

describe('gatehouse command line', function () {
  this.timeout(30000);
  const dir = mkdtempSync(join(tmpdir(), 'gh-cli-'));

  it('names every bad key of an invalid config and exits 1 without listening', async () => {
    const port = await freePort();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, [
      'node_id: gh-bad', 'shutdown_timeout: soon', 'colour: blue', 'admin: { listen: "" }',
      'limits: { max_body_size: huge }',
      'reverse:', `  - listen: ${ownAddress(port)}`, '    routes:', '      - { match: {}, pool: nowhere }',
      '      - { match: {}, pool: app, respond: { status: 200 } }',
      'pools:', '  app:', '    balance: fastest', '    upstreams: [{ url: "ftp://x" }]', '',
    ].join('\n'));
    const { child, output } = run(['--config', file]);
    let sawListener = false;
    const probe = setInterval(() => { void listening(port).then((up) => { sawListener ||= up; }); }, 20);
    const result = await output;
    clearInterval(probe);
    expect(result.code).to.equal(1);
    expect(child.exitCode).to.equal(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).to.include.members([
      'shutdown_timeout: must be a duration like 250ms, 5s, 2m or 1h, got "soon"',
      'colour: unknown key',
      'limits.max_body_size: must be a size like 512KB or 256MB, got "huge"',
      'reverse[0].routes[1]: must have exactly one of pool or respond',
      'pools.app.upstreams[0].url: must use http: or https: or tcp:, got ftp:',
    ]);
    expect(lines.some((l) => l.startsWith('pools.app.balance: must be one of'))).to.equal(true);
    expect(sawListener).to.equal(false);
    expect(await listening(port)).to.equal(false);
  });

  it('check exits 0 on the default config and 1 with key: message lines on a bad one', async () => {
    const ok = await run(['check', '--config', 'config/default.yaml']).output;
    expect(ok.code, ok.stderr).to.equal(0);
    const file = join(dir, 'bad-ref.yaml');
    writeFileSync(file, 'reverse: [{ listen: "127.0.0.1:0", routes: [{ match: {}, pool: ghost }] }]\n');
    const bad = await run(['check', '--config', file]).output;
    expect(bad.code).to.equal(1);
    expect(bad.stderr.trim()).to.equal('reverse[0].routes[0].pool: unknown pool "ghost"');
  });

  it('check reports reference errors together with key errors, with "did you mean" for keys and pools', async () => {
    const file = join(dir, 'typos.yaml');
    writeFileSync(file, [
      'shutdown_timeout: soon', 'lgo: { level: info }', 'log: { levle: info }',
      'reverse:', '  - listen: 127.0.0.1:0', '    routes:', '      - { match: {}, pool: ap, cahce: true }',
      'pools:', '  app: { upstreams: [{ url: "http://127.0.0.1:1" }] }', '',
    ].join('\n'));
    const result = await run(['check', '--config', file]).output;
    expect(result.code).to.equal(1);
    expect(result.stdout).to.equal('');
    expect(result.stderr.trim().split('\n').sort()).to.deep.equal([
      'lgo: unknown key (did you mean "log"?)',
      'log.levle: unknown key (did you mean "level"?)',
      'reverse[0].routes[0].cahce: unknown key (did you mean "cache"?)',
      'reverse[0].routes[0].pool: unknown pool "ap" (did you mean "app"?)',
      'shutdown_timeout: must be a duration like 250ms, 5s, 2m or 1h, got "soon"',
    ]);
  });

  it('check warns about a routing plugin whose decisions (its route cases, its options) name pools not in the config', async () => {
    const file = join(dir, 'routing.yaml');
    writeFileSync(file, [
      `plugins: { dir: "${join(process.cwd(), 'plugins')}" }`, 'admin: { listen: "" }',
      'reverse:', '  - listen: 127.0.0.1:0', '    routes:', '      - match: {}', '        pool: app',
      '        plugins: [examples/canary.ts, { file: examples/route-by-ip.js, options: { rules: [{ cidr: 10.0.0.0/8, pool: internl }] } }]',
      'pools:', '  app: { upstreams: [{ url: "http://127.0.0.1:1" }] }', '  internal: { upstreams: [{ url: "http://127.0.0.1:2" }] }', '',
    ].join('\n'));
    const result = await run(['check', '--config', file]).output;
    expect(result.code, result.stderr).to.equal(0);
    const warnings = result.stderr.trim().split('\n');
    expect(warnings).to.include('warning: reverse[0].routes[0].plugins[0]: for the request of canary.cases/opt-in-cookie.json, route() names pool "canary", which is not in pools; such requests fall back to the route\'s pool');
    expect(warnings).to.include('warning: reverse[0].routes[0].plugins[1]: options name pool "internl", which is not in pools (did you mean "internal"?)');
    expect(warnings.every((w) => w.startsWith('warning: '))).to.equal(true);
    // the proxy starts with that config, and says the same in its log
    const proxy = run(['--config', file]);
    let stdout = '';
    proxy.child.stdout!.on('data', (d) => { stdout += d; });
    for (let i = 0; i < 200 && !stdout.includes('gatehouse started'); i++) await new Promise((r) => setTimeout(r, 50));
    proxy.child.kill('SIGTERM');
    expect((await proxy.output).code).to.equal(0);
    expect(stdout).to.include('"msg":"routing plugin names a pool not in the config"').and.include('options name pool \\"internl\\"');
  });

  it('--version, --help with every option, and usage errors on stderr naming the wrong word', async () => {
    // independent runs, started together: each is a process start
    const [version, short, help, pluginHelp, typo, option, pluginUsage] = await Promise.all([
      ['--version'], ['-v'], ['--help'], ['plugin', 'test', '--help'], ['chek'], ['--cofig', 'x.yaml'], ['plugin', 'test'],
    ].map((args) => run(args).output));
    expect(version.stdout.trim()).to.match(/^\d+\.\d+\.\d+/);
    expect(short.stdout).to.equal(version.stdout);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^Usage:\n/);
    for (const option of ['--config', '--out', '--name', '--days', '--force', '--ca', '--request', '--cases', '--hook', '--cpu-limit', '--timeout', '--memory-limit', '--password-stdin', '--version']) {
      expect(help.stdout).to.include(option);
    }
    expect(pluginHelp.code).to.equal(0);
    expect(pluginHelp.stdout).to.match(/^Usage: gatehouse plugin test FILE/);
    expect(typo).to.deep.include({ code: 2, stdout: '' });
    expect(typo.stderr).to.match(/^gatehouse: unknown command "chek" \(did you mean "check"\?\)\nRun "gatehouse --help" for usage\.\n$/);
    expect(option).to.deep.include({ code: 2, stdout: '' });
    expect(option.stderr).to.include('unknown option "--cofig" (did you mean "--config"?)');
    expect(pluginUsage).to.deep.include({ code: 2, stdout: '' });
    expect(pluginUsage.stderr).to.include('missing plugin FILE');
  });

  it('passwd writes a bcrypt entry that verifies, replaces it on a second run, and needs a terminal or --password-stdin', async () => {
    const users = join(dir, 'users');
    const first = await run(['passwd', users, 'alice', '--password-stdin'], {}, 's3cret\n').output;
    expect(first, first.stderr).to.deep.include({ code: 0, stdout: `added alice in ${users} (bcrypt)\n` });
    expect((await run(['passwd', users, 'bob', '--password-stdin'], {}, 'b0b\n').output).code).to.equal(0);
    const second = await run(['passwd', users, 'alice', '--password-stdin'], {}, 'n3w\n').output;
    expect(second.stdout).to.equal(`updated alice in ${users} (bcrypt)\n`);
    const lines = readFileSync(users, 'utf8').trim().split('\n');
    expect(lines.map((l) => l.split(':')[0])).to.deep.equal(['alice', 'bob']);
    const alice = lines[0]!.slice('alice:'.length);
    expect(hashFormat(alice)).to.equal('bcrypt');
    expect((await verifyPassword('n3w', alice)).ok).to.equal(true);
    expect((await verifyPassword('s3cret', alice)).ok).to.equal(false);
    const noTerminal = await run(['passwd', users, 'carol']).output;
    expect(noTerminal.code).to.equal(2);
    expect(noTerminal.stderr).to.include('--password-stdin');
  });

  it('passwd asks twice on a terminal without showing the password', async function () {
    this.timeout(60000);
    // a pseudo-terminal through util-linux `script`, answering each prompt once it is shown
    if (spawnSync('script', ['--version']).status !== 0) return this.skip();
    const users = join(dir, 'tty-users');
    const command = [process.execPath, ...CLI, 'passwd', users, 'dora'].map((a) => `'${a}'`).join(' ');
    const tty = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let shown = '';
    tty.stdout!.on('data', (d) => { shown += d; });
    const waitFor = async (text: string) => { for (let i = 0; i < 300 && !shown.includes(text); i++) await new Promise((r) => setTimeout(r, 50)); };
    await waitFor('New password: ');
    tty.stdin!.write('hidden-pw\r');
    await waitFor('Re-type new password: ');
    tty.stdin!.write('hidden-pw\r');
    await waitFor('(bcrypt)');
    tty.stdin!.end();
    if (tty.exitCode === null) await once(tty, 'exit');
    expect(shown).to.include(`added dora in ${users} (bcrypt)`).and.not.include('hidden-pw');
    expect((await verifyPassword('hidden-pw', readFileSync(users, 'utf8').trim().slice('dora:'.length))).ok).to.equal(true);
  });

  it('exits 2 on bad usage', async () => {
    expect((await run(['--config']).output).code).to.equal(2);
    expect((await run(['plugin', 'frobnicate']).output).code).to.equal(2);
  });

  it('exits 1 with one clear line when the port is taken', async () => {
    const holder = createNetServer().listen(0, '127.0.0.1');
    await once(holder, 'listening');
    const port = (holder.address() as AddressInfo).port;
    const file = join(dir, 'taken.yaml');
    writeFileSync(file, `admin: { listen: "" }\nreverse: [{ listen: "127.0.0.1:${port}", routes: [{ match: {}, respond: { status: 200 } }] }]\n`);
    const result = await run(['--config', file]).output;
    holder.close();
    expect(result.code).to.equal(1);
    expect(result.stderr).to.match(/reverse\[0\]: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  });

  describe('graceful shutdown', () => {
    // The origin holds its answer until the test has seen the drain refuse new connections.
    let origin: Origin;
    const held: ServerResponse[] = [];
    let arrived: () => void = () => {};
    before(async () => {
      origin = await startOrigin((req, res) => { req.resume(); held.push(res); arrived(); });
    });
    after(() => origin.close());

    it('finishes in-flight requests on SIGTERM, refuses new connections, and exits 0', async () => {
      const port = await freePort();
      const file = join(dir, 'drain.yaml');
      writeFileSync(file, `admin: { listen: "" }\nshutdown_timeout: 20s\nreverse: [{ listen: "${ownAddress(port)}", routes: [{ match: {}, pool: app }] }]\npools: { app: { upstreams: [{ url: "${origin.url}" }] } }\n`);
      const { child, output } = run(['--config', file], { GATEHOUSE_LOG_LEVEL: 'info' });
      for (let i = 0; i < 400 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 50));
      const atOrigin = new Promise<void>((r) => { arrived = r; });
      const inflight = fetch(`${ownUrl(port)}/slow`).then(async (r) => [r.status, await r.text()]);
      await atOrigin;
      child.kill('SIGTERM');
      for (let i = 0; i < 200 && (await listening(port)); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await listening(port)).to.equal(false, 'new connections are refused while draining');
      expect(child.exitCode).to.equal(null, 'still draining');
      held.splice(0).forEach((res) => res.end('slow answer'));
      expect(await inflight).to.deep.equal([200, 'slow answer']);
      const result = await output;
      expect(result.code).to.equal(0);
      expect(result.stdout).to.include('"msg":"draining"');
      expect(result.stdout).to.include('"path":"/slow"');
    });
  });
});
