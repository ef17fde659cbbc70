import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, listening } from '../helpers/cli.js';
import { loadAgent, runLoad, shoot } from '../helpers/load.js';
import { startOrigin, type Origin } from '../helpers/loopback.js';
import { PluginDir } from '../unit/plugins/plugin-fixtures.js';

// V8's %GetOptimizationStatus bits (src/runtime/runtime.h, OptimizationStatus).
const OPTIMIZED = 1 << 4;
const OPTIMIZING_CONCURRENTLY = 1 << 10;

/**
 * Plugin isolates are only entered synchronously; with V8's background compilation a hot plugin
 * function under load stayed "optimising" forever, in the interpreter (src/plugins/isolate-tiering.ts).
 * Reading the status needs V8 natives syntax, so the proxy runs as a child with --allow-natives-syntax.
 */
describe('plugins e2e: hot plugin code under load reaches optimised machine code', function () {
  this.timeout(60_000);
  const dir = new PluginDir();
  let origin: Origin;
  after(async () => { await origin?.close(); dir.remove(); });

  it('a hot hook function is optimised, not left waiting for a background compile', async () => {
    origin = await startOrigin((req, res) => { req.resume(); res.end('ok'); });
    dir.write('hot.js', `
      function work(path) { let n = 0; for (let i = 0; i < path.length; i++) n += path.charCodeAt(i); return n; }
      export function onRequest(req) {
        if (req.path === '/status') return { deny: { status: 403, reason: 'status ' + %GetOptimizationStatus(work) } };
        if (work(req.path) === -1) return { deny: { status: 403, reason: 'never' } };
      }`);
    const port = await freePort();
    const config = join(dir.dir, 'gatehouse.yaml');
    writeFileSync(config, `
admin: { listen: "" }
log: { level: silent }
plugins: { dir: "${dir.dir}", watch: false }
reverse:
  - listen: 127.0.0.1:${port}
    routes: [{ match: { path_prefix: / }, pool: app, plugins: [hot.js] }]
pools:
  app: { upstreams: [{ url: "${origin.url}" }] }
`);
    const child = spawn(process.execPath, ['--no-node-snapshot', '--allow-natives-syntax', '--import', 'tsx', 'src/cli/main.ts', '--config', config],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += d; });
    try {
      for (let i = 0; i < 100 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 100));
      const agent = loadAgent(20);
      const url = `http://127.0.0.1:${port}/some/longer/path/for/the/plugin`;
      const shots = await runLoad(30_000, 20, () => shoot(agent, url));
      expect(shots.filter((s) => s.status !== 200), stderr).to.have.length(0);
      const status = Number(/status (\d+)/.exec((await shoot(agent, `http://127.0.0.1:${port}/status`)).body)?.[1]);
      await agent.close();
      expect(status & OPTIMIZING_CONCURRENTLY, `status ${status.toString(2)}`).to.equal(0);
      expect(status & OPTIMIZED, `status ${status.toString(2)}`).to.equal(OPTIMIZED);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
