import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Plugin } from '../../../src/plugins/plugin.js';
import { buildConfig } from '../../../src/config/load.js';
import { PluginRegistry, checkPlugin, registryOptionsFromConfig, resolveEntry } from '../../../src/plugins/plugin-registry.js';
import type { CallOutcome, HookName } from '../../../src/plugins/plugin-types.js';
import { requestViewFrom } from '../../../src/plugins/plugin-view.js';
import { PluginDir, RELAXED, captureLogger } from './plugin-fixtures.js';

const v = (tag: string) => `export function onRequest() { return { set_headers: { 'x-version': '${tag}' } }; }\n`;
const req = requestViewFrom({});

describe('plugins: registry, reload, quarantine, check', function () {
  this.timeout(30_000);
  let dir: PluginDir;
  beforeEach(() => { dir = new PluginDir(); });
  afterEach(() => dir.remove());

  it('resolves entries against plugins.dir and shares identical entries', async () => {
    dir.write('a.js', v('1'));
    const reg = new PluginRegistry({ dir: dir.dir, ...RELAXED });
    try {
      const a1 = await reg.load('a.js');
      const a2 = await reg.load({ file: 'a.js', options: {} });
      const a3 = await reg.load({ file: 'a.js', options: { x: 1 }, on_error: 'fail_open' });
      expect(a1).to.equal(a2);
      expect(a3).to.not.equal(a1);
      expect([a1.name, a3.name]).to.deep.equal(['a', 'a#2']);
      expect(a1.onErrorFor('onRequest')).to.equal('fail_closed');
      expect(a1.onErrorFor('route')).to.equal('fail_open');
      expect(a3.onErrorFor('onRequest')).to.equal('fail_open');
      expect(() => resolveEntry({ file: 'a.js', on_eror: 'x' }, dir.dir)).to.throw(/unknown key "on_eror"/);
      expect(() => resolveEntry({ file: 'a.js', on_error: 'ignore' }, dir.dir)).to.throw(/on_error must be/);
      const loaded = buildConfig({ plugins: { dir: 'plugins', memory_limit: '32MB', cpu_limit: '50ms', timeout: '500ms' } });
      expect(registryOptionsFromConfig(loaded.plugins))
        .to.deep.equal({ dir: 'plugins', memoryLimitMb: 32, cpuLimitMs: 50, timeoutMs: 500 });
    } finally {
      reg.close();
    }
  });

  it('reload swaps in a new version and keeps the old one serving when the new one is broken', async () => {
    const file = dir.write('r.js', v('1'));
    const logger = captureLogger();
    // the endless loop below is stopped by the wall-clock limit: wide enough that a good call on a loaded machine is not
    const reg = new PluginRegistry({ dir: dir.dir, logger, timeoutMs: 1_500 });
    try {
      const p = await reg.load('r.js');
      const v1 = p.version;
      writeFileSync(file, 'export function onRequest() {\n  return { set_headers: { ;\n}\n');
      const bad = await reg.reload();
      expect(bad.reloaded).to.deep.equal([]);
      expect(bad.failed[0]!.error).to.match(/r\.js:2:\d+: SyntaxError: Unexpected token/);
      expect(p.version).to.equal(v1);
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: { set_headers: { 'x-version': '1' } } });
      writeFileSync(file, "export function onRequest() { while (true) {} }\n");
      expect((await reg.reload()).failed[0]!.error).to.match(/smoke call of onRequest failed \(timeout\)/);
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: { set_headers: { 'x-version': '1' } } });
      writeFileSync(file, v('2'));
      const good = await reg.reload();
      expect(good.failed).to.deep.equal([]);
      expect(good.reloaded[0]).to.include({ plugin: 'r', changed: true });
      expect(p.version).to.match(/^[0-9a-f]{12}$/);
      expect(p.version).to.not.equal(v1);
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: { set_headers: { 'x-version': '2' } } });
      expect(p.stats().reloads).to.equal(1);
    } finally {
      reg.close();
    }
  });

  it('quarantines after 5 terminations in the window, until reload', async () => {
    // Out-of-memory terminations: each replaces the isolate inside the plugin's process.
    const file = dir.write('q.js', "export function onRequest(req) { if (req.path === '/spin') { const a = []; for (;;) a.push(new Array(1 << 17).fill(1)); } }\n");
    const states: string[] = [];
    const p = await Plugin.load({ name: 'q', file, timeoutMs: 10_000, cpuLimitMs: 10_000, observer: { onStateChange: (e) => states.push(e.state) } });
    try {
      const spin = requestViewFrom({ path: '/spin' });
      for (let i = 0; i < 4; i++) expect(await p.onRequest(spin)).to.deep.include({ ok: false });
      expect(p.state).to.equal('active');
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: null });
      await p.onRequest(spin);
      expect(p.state).to.equal('quarantined');
      const r = await p.onRequest(req);
      expect(r).to.deep.include({ ok: false, onError: 'fail_closed' });
      expect(!r.ok && r.error.kind).to.equal('quarantined');
      const s = p.stats();
      expect(s).to.include({ state: 'quarantined', terminations: 5, errors: 5, restarts: 0 });
      expect(s.calls.onRequest).to.deep.equal({ oom: 5, ok: 1, quarantined: 1 });
      expect((await p.reload()).ok).to.equal(true);
      expect(p.state).to.equal('active');
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: null });
      expect(states).to.deep.equal(['quarantined', 'active']);
    } finally {
      p.close();
    }
  });

  it('throws and malformed results do not quarantine (they cost nothing)', async () => {
    const file = dir.write('t.js', "export function onRequest() { throw new Error('nope'); }\nexport function route() { return 1; }\n".replace("throw new Error('nope')", "if (Math.random() < 2) throw new Error('nope')"));
    const err = await Plugin.load({ name: 't', file }).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/smoke call of onRequest failed \(throw\): Error: nope \(at onRequest \(.*t\.js:1:\d+\)\)/);
    const f2 = dir.write('t2.js', "export function onRequest(r) { if (r.path === '/x') throw new Error('nope'); }\n");
    const p = await Plugin.load({ name: 't2', file: f2, ...RELAXED });
    try {
      await Promise.all(Array.from({ length: 20 }, () => p.onRequest(requestViewFrom({ path: '/x' }))));
      expect(p.state).to.equal('active');
      expect(p.stats()).to.include({ errors: 20, terminations: 0 });
    } finally {
      p.close();
    }
  });

  it('a call that used more CPU than the limit fails as a timeout, and the isolate is replaced', async () => {
    // Burns CPU until its own CPU clock is past 30 ms: the limit is 5 ms, the wall backstop far away.
    const file = dir.write('cpu.js', "let n = 0; export function onRequest(r) { n++; if (r.path === '/burn') { let x = 0; for (let i = 0; i < 3e7; i++) x += i; return { set_headers: { x: String(x) } }; } return { set_headers: { n: String(n) } }; }\n");
    const terms: string[] = [];
    const p = await Plugin.load({ name: 'cpu', file, timeoutMs: 60_000, cpuLimitMs: 5, observer: { onTermination: (e) => terms.push(e.message) } });
    try {
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: { set_headers: { n: '2' } } }); // the smoke call was 1
      const r = await p.onRequest(requestViewFrom({ path: '/burn' }));
      expect(!r.ok && r.error.kind).to.equal('timeout');
      expect(terms[0]).to.match(/used [\d.]+ms of CPU \(limit 5ms\)/);
      // a fresh isolate ran the module again: its state starts over
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: { set_headers: { n: '1' } } });
    } finally {
      p.close();
    }
  });

  it('reports compile errors with file:line for JS and TS, and module top-level failures', async () => {
    const js = dir.write('bad.js', '// header\n\nconst x = ;\nexport function onRequest() {}\n');
    expect((await checkPlugin(js))[0]).to.match(/bad\.js:3:\d+: SyntaxError: /);
    const ts = dir.write('bad.ts', 'export function route(req: { path: string }): void {\n  const x: number = ;\n}\n');
    expect((await checkPlugin(ts))[0]).to.match(/bad\.ts:2:\d+: TypeScript: Unexpected ";"/);
    const top = dir.write('top.js', 'const table = {};\ntable.a.b = 1;\nexport function onRequest() {}\n');
    expect((await checkPlugin(top))[0]).to.match(/top\.js:2:\d+: TypeError: Cannot set properties of undefined/);
    const none = dir.write('none.js', 'export const x = 1;\n');
    expect((await checkPlugin(none))[0]).to.match(/none\.js: exports none of onRequest, route, onResponse/);
    const slow = dir.write('slow.js', 'while (true) {}\nexport function onRequest() {}\n');
    expect((await checkPlugin(slow))[0]).to.match(/slow\.js: module top level ran longer than 1000ms/);
    expect(await checkPlugin(dir.write('ok.ts', 'export const onRequest = (r: unknown): void => undefined;\n'))).to.deep.equal([]);
    expect(await checkPlugin('plugins/examples/canary.ts')).to.deep.equal([]);
  });

  it('watch: a changed file is reloaded automatically', async () => {
    const file = dir.write('w.js', v('1'));
    const reg = new PluginRegistry({ dir: dir.dir, watch: true, ...RELAXED });
    try {
      const p = await reg.load('w.js');
      await sleep(50);
      writeFileSync(file, v('2'));
      for (const end = Date.now() + 30_000; p.stats().reloads === 0 && Date.now() < end;) await sleep(50);
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: { set_headers: { 'x-version': '2' } } });
    } finally {
      reg.close();
    }
  });

  it('stats and the observer see every call with its outcome and duration', async () => {
    dir.write('o.js', "export function onRequest(r) { if (r.path === '/bad') return { deny: { status: 200 } }; }\nexport function onResponse(res) { return { status: res.status }; }\n");
    const calls: { plugin: string; hook: HookName; outcome: CallOutcome; seconds: number }[] = [];
    const reg = new PluginRegistry({ dir: dir.dir, ...RELAXED, observer: { onCall: (e) => calls.push(e) } });
    try {
      const p = await reg.load('o.js');
      await p.onRequest(req);
      const bad = await p.onRequest(requestViewFrom({ path: '/bad' }));
      expect(bad).to.deep.include({ ok: false, onError: 'fail_closed' });
      expect(!bad.ok && bad.error).to.deep.equal({ kind: 'malformed', message: 'deny.status must be an integer 400-599, got 200' });
      expect(await p.onResponse({ status: 404, headers: {} }, req)).to.deep.equal({ ok: true, decision: { status: 404 } });
      expect(calls.map((c) => `${c.plugin}:${c.hook}:${c.outcome}`)).to.deep.equal(['o:onRequest:ok', 'o:onRequest:malformed', 'o:onResponse:ok']);
      // a duration, in seconds (bounded widely: a loaded machine is slow)
      expect(calls.every((c) => c.seconds >= 0 && c.seconds < 15)).to.equal(true);
      await sleep(1100); // the process reports its heap at most once a second, with an answer
      await p.onRequest(req);
      const [s] = reg.stats();
      expect(s).to.include({ name: 'o', state: 'active', errors: 1, terminations: 0 });
      expect(s!.hooks).to.deep.equal(['onRequest', 'onResponse']);
      expect(s!.heapBytes).to.be.above(0);
      expect(s!.lastError).to.include({ kind: 'malformed' });
    } finally {
      reg.close();
    }
  });

  it('a plugin process that dies mid-call: its calls fail by on_error, it is restarted, the next call is served', async () => {
    const file = dir.write('held.js', "let n = 0; export function onRequest(r) { n++; if (r.path === '/hold') { const end = Date.now() + 2000; while (Date.now() < end) {} } return { set_headers: { n: String(n) } }; }\n");
    const ended: string[] = [];
    const p = await Plugin.load({ name: 'held', file, timeoutMs: 10_000, cpuLimitMs: 10_000, observer: { onTermination: (e) => ended.push(e.kind) } });
    try {
      const pid = p.stats().pid!;
      const held = p.onRequest(requestViewFrom({ path: '/hold' }));
      const queued = p.onRequest(req);
      await sleep(200);
      process.kill(pid, 'SIGKILL');
      for (const r of await Promise.all([held, queued])) {
        expect(r).to.deep.include({ ok: false, onError: 'fail_closed' });
        expect(!r.ok && r.error.kind).to.equal('crashed');
      }
      expect(ended).to.deep.equal(['crashed']);
      // a new process, with the module's state started over
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: { set_headers: { n: '1' } } });
      expect(p.stats().pid).to.not.equal(pid);
      expect(p.stats()).to.include({ state: 'active', terminations: 1, restarts: 1 });
    } finally {
      p.close();
    }
  });

  it('a plugin process outlives SIGINT and SIGTERM (the proxy drains with it, then ends it)', async () => {
    const p = await Plugin.load({ name: 'calm', file: dir.write('calm.js', v('1')), ...RELAXED });
    try {
      const pid = p.stats().pid!;
      process.kill(pid, 'SIGINT');
      process.kill(pid, 'SIGTERM');
      await sleep(200);
      expect(await p.onRequest(req)).to.deep.equal({ ok: true, decision: { set_headers: { 'x-version': '1' } } });
      expect(p.stats().pid).to.equal(pid);
    } finally {
      p.close();
    }
  });
});
