import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { startOrigin, type Origin } from '../helpers/loopback.js';
import { freePort, listening, runCli } from '../helpers/cli.js';

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
      'reverse:', `  - listen: 127.0.0.1:${port}`, '    routes:', '      - { match: {}, pool: nowhere }',
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
    let origin: Origin;
    before(async () => {
      origin = await startOrigin((req, res) => {
        req.resume();
        setTimeout(() => res.end('slow answer'), 800);
      });
    });
    after(() => origin.close());

    it('finishes in-flight requests on SIGTERM, refuses new connections, and exits 0', async () => {
      const port = await freePort();
      const file = join(dir, 'drain.yaml');
      writeFileSync(file, `admin: { listen: "" }\nshutdown_timeout: 5s\nreverse: [{ listen: "127.0.0.1:${port}", routes: [{ match: {}, pool: app }] }]\npools: { app: { upstreams: [{ url: "${origin.url}" }] } }\n`);
      const { child, output } = run(['--config', file], { GATEHOUSE_LOG_LEVEL: 'info' });
      for (let i = 0; i < 100 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 50));
      const inflight = fetch(`http://127.0.0.1:${port}/slow`).then(async (r) => [r.status, await r.text()]);
      await new Promise((r) => setTimeout(r, 200));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      expect(await listening(port)).to.equal(false, 'new connections are refused while draining');
      expect(await inflight).to.deep.equal([200, 'slow answer']);
      const result = await output;
      expect(result.code).to.equal(0);
      expect(result.stdout).to.include('"msg":"draining"');
      expect(result.stdout).to.include('"path":"/slow"');
    });
  });
});
