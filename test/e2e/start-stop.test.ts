/**
 * Starting and stopping the way users and process managers do: `npm start`, `npx gatehouse` and the
 * `gatehouse` bin, each signalled on the PID that was started (not the proxy's own), and the bin's Node
 * version check. These run the compiled build (dist/), as users do.
 */
import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { listening } from '../helpers/cli.js';
import { freePort, ownAddress, ownUrl } from '../helpers/addresses.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` holds; the bound only says it happens (start-up on a loaded machine is slow). */
async function waitFor(check: () => Promise<boolean>, what: string, ms = 40000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

interface Started { child: ChildProcess; exit: Promise<{ code: number | null; signal: string | null }>; output: () => string }

function start(command: string, args: string[], config: string, env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(command, args, { env: { ...process.env, GATEHOUSE_CONFIG: config, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
  return { child, exit, output: () => output };
}

describe('starting and stopping through npm and the bin', function () {
  this.timeout(90000);
  const dir = mkdtempSync(join(tmpdir(), 'gh-start-'));
  let reversePort: number;
  let adminPort: number;
  let config: string;

  before(function () {
    this.timeout(120000);
    execFileSync(process.execPath, ['scripts/build-if-needed.mjs'], { stdio: 'ignore' });
  });

  // Fresh ports for every test, so a proxy left running by one failure cannot fail the next.
  beforeEach(async () => {
    reversePort = await freePort();
    adminPort = await freePort();
    config = join(dir, `gatehouse-${reversePort}.yaml`);
    writeFileSync(config, [
      `admin: { listen: "${ownAddress(adminPort)}" }`,
      `reverse: [{ listen: "${ownAddress(reversePort)}", routes: [{ match: {}, respond: { status: 200, body: "up" } }] }]`, '',
    ].join('\n'));
  });

  async function startThenSignal(command: string, args: string[], signal: NodeJS.Signals) {
    const run = start(command, args, config);
    await waitFor(async () => (await listening(reversePort)) && (await listening(adminPort)), 'the proxy to listen')
      .catch((e: Error) => { run.child.kill('SIGKILL'); throw new Error(`${e.message}; it wrote: ${run.output().slice(-1000)}`); });
    expect(await (await fetch(`${ownUrl(reversePort)}/`)).text()).to.equal('up');
    run.child.kill(signal);
    await waitFor(async () => !(await listening(reversePort)) && !(await listening(adminPort)), 'the ports to close', 10000);
    return { ...(await run.exit), output: run.output() };
  }

  it('SIGTERM to the PID of `npm start` drains the proxy; npm exits 0', async () => {
    const result = await startThenSignal('npm', ['start', '--silent'], 'SIGTERM');
    expect(result, result.output).to.include({ code: 0, signal: null });
    expect(result.output).to.include('"msg":"stopped"');
  });

  it('SIGINT to the PID of `npm start` drains the proxy; npm exits 0', async () => {
    const result = await startThenSignal('npm', ['start', '--silent'], 'SIGINT');
    expect(result, result.output).to.include({ code: 0, signal: null });
  });

  it('SIGTERM to the PID of the bin drains the proxy and exits 0', async () => {
    const result = await startThenSignal(join('bin', 'gatehouse.js'), [], 'SIGTERM');
    expect(result, result.output).to.include({ code: 0, signal: null });
    expect(result.output).to.include('"msg":"stopped"');
  });

  it('SIGTERM to `node bin/gatehouse.js` drains the proxy and exits 0', async () => {
    const result = await startThenSignal(process.execPath, [join('bin', 'gatehouse.js')], 'SIGTERM');
    expect(result, result.output).to.include({ code: 0, signal: null });
    expect(result.output).to.include('"msg":"stopped"');
  });

  it('SIGTERM to the PID of `npx gatehouse` stops the proxy too (npm exits by the signal, as npm does)', async () => {
    // npm passes the signal to its `sh -c`, which dies of it; the proxy sees its parent go and drains.
    const result = await startThenSignal('npx', ['--no', 'gatehouse'], 'SIGTERM');
    expect(result.code === 0 || result.signal === 'SIGTERM' || result.code === 143, result.output).to.equal(true);
  });

  it('`npx gatehouse` prints no engine warning from npm (engines names the Node that runs npm)', async () => {
    // as from a user's shell: npm runs on the system's Node, not the project's (npm scripts put it first on PATH)
    const userPath = (process.env.PATH ?? '').split(delimiter).filter((d) => !d.includes('node_modules')).join(delimiter);
    // a first run (empty npx cache) is when npm checks engines; offline: the package is this directory
    const cache = mkdtempSync(join(tmpdir(), 'gh-npx-cache-'));
    const run = start('npx', ['--offline', '--yes', '--', 'gatehouse', '--version'], config, { PATH: userPath, npm_config_cache: cache });
    expect(await run.exit).to.deep.equal({ code: 0, signal: null });
    expect(run.output()).to.not.include('EBADENGINE');
    expect(run.output().trim()).to.equal(JSON.parse(readFileSync('package.json', 'utf8')).version);
    rmSync(cache, { recursive: true, force: true });
  });

  it('an old Node gets one line naming the Node needed, the one found and how to run the project\'s own', async function () {
    const { nodeVersionProblem } = await import('../../bin/node-version.js' as string);
    expect(nodeVersionProblem('24.21.0')).to.equal(null);
    expect(nodeVersionProblem('22.19.0')).to.equal(null);
    expect(nodeVersionProblem('20.20.2')).to.equal(
      'gatehouse: needs Node.js 22.19 or newer, found 20.20.2; run it with the project\'s own Node: `npx gatehouse …` or `npm start`');
    // With an older system Node on the machine, run the real bin on it (before any import that needs more).
    let systemNode = '';
    try { systemNode = execFileSync('/usr/bin/node', ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim(); } catch { /* none */ }
    if (!systemNode || nodeVersionProblem(systemNode) === null) return;
    const run = start('/usr/bin/node', [join('bin', 'gatehouse.js'), '--help'], config);
    expect(await run.exit).to.deep.equal({ code: 1, signal: null });
    expect(run.output().trim()).to.equal(nodeVersionProblem(systemNode));
  });
});
