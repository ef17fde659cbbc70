import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { watchdogState } from '../../../src/plugins/call-watchdog.js';
import { Plugin } from '../../../src/plugins/plugin.js';
import { requestViewFrom } from '../../../src/plugins/request-view.js';
import { PluginDir } from './plugin-fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const req = (path: string) => requestViewFrom({ path });
const hostile = (evil: string) => `export function onRequest(req) { if (req.path === '/evil') { ${evil} } }`;

/** Loads a plugin; `watchedFrom` is the first watchdog generation that watches its isolate. */
function load(opts: Parameters<typeof Plugin.load>[0]): { p: Plugin; watchedFrom: number } {
  // The isolate is registered before the load's smoke call, which may itself launch that generation.
  const watchedFrom = watchdogState().latest + 1;
  return { p: Plugin.load(opts), watchedFrom };
}

/**
 * Calls the plugin until the running watchdog generation watches its isolate (the next call is
 * watched). A call starts the watchdog, or asks a running one that lacks the isolate to make way
 * for a new generation that has it.
 */
async function watched({ p, watchedFrom }: { p: Plugin; watchedFrom: number }): Promise<void> {
  for (let i = 0; i < 300; i++) {
    expect(p.onRequest(req('/')).ok).to.equal(true);
    if (watchdogState().generation >= watchedFrom) return;
    await sleep(10);
  }
  throw new Error('the watchdog never took the plugin in');
}

describe('plugins: the call watchdog (wall-time limit without a per-call timer)', function () {
  this.timeout(20_000);
  const dir = new PluginDir();
  after(() => dir.remove());

  for (const [name, evil] of [['while(true){}', 'while (true) {}'], ['an async loop after await', 'return (async () => { await 0; while (true) {} })();']]) {
    it(`terminates ${name} in a watched call, and the plugin recovers`, async () => {
      const w = load({ name, file: dir.write(`${name.replace(/\W+/g, '-')}.js`, hostile(evil)), timeoutMs: 50 });
      const p = w.p;
      try {
        await watched(w);
        expect(watchdogState().generation).to.be.above(0);
        const kills = watchdogState().kills;
        const t0 = performance.now();
        const r = p.onRequest(req('/evil'));
        const ms = performance.now() - t0;
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(r.error.kind).to.equal('timeout');
        expect(watchdogState().kills, 'terminated by the watchdog, not by an isolated-vm timer').to.equal(kills + 1);
        expect(ms).to.be.within(45, 1000);
        expect(p.onRequest(req('/')).ok).to.equal(true);
        expect(p.stats().terminations).to.equal(1);
      } finally {
        p.close();
      }
    });
  }

  // The rest of the hostile set, with the call certainly watched (the hostile suite calls straight after load).
  const MORE: [string, string, string[]][] = [
    ['self-rescheduling microtasks', 'const f = () => Promise.resolve().then(f); f();', ['timeout', 'oom']],
    ['allocating 1 GB', 'const a = []; for (let i = 0; i < 1024; i++) a.push(new Array(1 << 17).fill(i));', ['oom', 'timeout']],
    ['deep recursion', 'const f = (n) => f(n + 1) + 1; return f(0);', ['throw']],
    ['a thrown value whose toString loops', 'throw { toString() { while (true) {} } };', ['throw', 'timeout']],
    ['a returned getter that loops', 'return { get deny() { while (true) {} } };', ['malformed', 'timeout']],
  ];
  for (const [name, evil, kinds] of MORE) {
    it(`contains ${name} in a watched call`, async () => {
      const w = load({ name, file: dir.write(`${name.replace(/\W+/g, '-')}.js`, hostile(evil)) });
      const p = w.p;
      try {
        await watched(w);
        const r = p.onRequest(req('/evil'));
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(kinds, r.error.message).to.include(r.error.kind);
        expect(p.onRequest(req('/')).ok).to.equal(true);
      } finally {
        p.close();
      }
    });
  }

  it('watches isolates registered while it runs (a new generation) and each with its own limit', async () => {
    const wa = load({ name: 'a', file: dir.write('a.js', hostile('while (true) {}')), timeoutMs: 400 });
    const a = wa.p;
    let b: Plugin | undefined;
    try {
      await watched(wa);
      const gen = watchdogState().generation;
      const wb = load({ name: 'b', file: dir.write('b.js', hostile('while (true) {}')), timeoutMs: 40 });
      b = wb.p;
      await watched(wb);
      expect(watchdogState().generation).to.be.above(gen);
      const kills = watchdogState().kills;
      let t0 = performance.now();
      expect(b.onRequest(req('/evil')).ok).to.equal(false);
      expect(performance.now() - t0).to.be.below(350);
      await watched(wa);
      t0 = performance.now();
      expect(a.onRequest(req('/evil')).ok).to.equal(false);
      expect(performance.now() - t0).to.be.at.least(390);
      // Each call was ended by a kill; one may fall back to isolated-vm's own timer if the watchdog
      // re-registered the isolate just then (both are correct containment), so count at least one.
      expect(watchdogState().kills).to.be.within(kills + 1, kills + 2);
    } finally {
      a.close();
      b?.close();
    }
  });

  it('stops when the last isolate is gone', async () => {
    const w = load({ name: 'p', file: dir.write('p.js', hostile('')), timeoutMs: 30 });
    const p = w.p;
    await watched(w);
    p.close();
    for (let i = 0; i < 100 && watchdogState().generation !== 0; i++) await sleep(5);
    expect(watchdogState()).to.deep.include({ generation: 0, slots: 0 });
  });

  it('a call it does not watch yet (the load smoke call) is limited all the same (isolated-vm\'s timeout)', () => {
    const file = dir.write('always.js', 'export function onRequest() { while (true) {} }');
    const t0 = performance.now();
    expect(() => Plugin.load({ name: 'always', file, timeoutMs: 30 })).to.throw(/smoke call of onRequest failed \(timeout\)/);
    expect(performance.now() - t0).to.be.below(1000);
  });

  describe('process exit', () => {
    const child = fileURLToPath(new URL('./watchdog-child.ts', import.meta.url));
    const run = (how: string) => spawnSync(process.execPath, ['--no-node-snapshot', '--import', 'tsx', child, dir.write('c.js', hostile('')), how],
      { encoding: 'utf8', timeout: 10_000 });
    for (const [how, status] of [['close', 0], ['exit', 0], ['throw', 1], ['forget', 0]] as const) {
      it(`${how}: the process ends with status ${status} (no crash, no hang)`, () => {
        const t0 = performance.now();
        const r = run(how);
        expect(r.stdout).to.match(/generation [1-9]/);
        expect(r.signal, r.stderr).to.equal(null);
        expect(r.status, r.stderr).to.equal(status);
        // `forget` waits for the idle watchdog to leave (1s); the others go at once
        expect(performance.now() - t0).to.be.below(how === 'forget' ? 6000 : 4500);
      });
    }
  });
});
