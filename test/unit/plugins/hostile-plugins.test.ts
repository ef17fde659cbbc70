import { expect } from 'chai';
import { routeTargetsFrom } from '../../../src/plugins/decision-validate.js';
import type { PluginOptions } from '../../../src/plugins/plugin-options.js';
import { Plugin } from '../../../src/plugins/plugin.js';
import type { CallResult } from '../../../src/plugins/plugin-types.js';
import { requestViewFrom } from '../../../src/plugins/plugin-view.js';
import { PluginDir, RELAXED, captureLogger } from './plugin-fixtures.js';

// An endless loop is stopped by the wall-clock limit: twice the production default, so that a call that
// ends (a good one, or one that fails otherwise) is not read as a timeout on a loaded machine, and short
// enough that the loops below do not make the suite slow.
const WALL = { timeoutMs: 1_000 } as const;

// Each hostile plugin is hostile only on /evil, so it passes the load smoke call and we can see it recover.
const hostile = (evil: string, hook = 'onRequest') => `
export function ${hook}(req) {
  if (req.path !== '/evil') return ${hook === 'route' ? "{ pool: 'app' }" : "{ set_headers: { 'x-ok': '1' } }"};
  ${evil}
}`;

const CASES: { name: string; code: string; kinds: string[]; hook?: 'route'; opts?: Partial<PluginOptions> }[] = [
  { name: 'while(true){}', code: hostile('while (true) {}'), kinds: ['timeout'] },
  { name: 'async infinite loop after await', code: hostile('return (async () => { await 0; while (true) {} })();'), kinds: ['timeout'] },
  { name: 'infinite loop in a promise job after returning', code: hostile('Promise.resolve().then(() => { while (true) {} }); return undefined;'), kinds: ['timeout'] },
  { name: 'self-rescheduling microtasks', code: hostile('const f = () => Promise.resolve().then(f); f(); return undefined;'), kinds: ['timeout', 'oom'] },
  { name: 'allocating 1 GB in small steps', code: hostile('const a = []; for (let i = 0; i < 1024; i++) a.push(new Array(1 << 17).fill(i)); return undefined;'), kinds: ['oom', 'timeout', 'crashed'] },
  { name: 'allocating 1 GB in small steps (no time pressure)', code: hostile('const a = []; for (let i = 0; i < 1024; i++) a.push(new Array(1 << 17).fill(i)); return undefined;'), kinds: ['oom', 'crashed'], opts: { timeoutMs: 20_000, cpuLimitMs: 20_000 } },
  // a huge allocation may fail inside V8 (throw), hit the heap limit (oom), the time limit, or end the process
  { name: 'a 1 GB ArrayBuffer', code: hostile('return { set_headers: { x: String(new ArrayBuffer(1e9).byteLength) } };'), kinds: ['throw', 'oom', 'timeout', 'crashed'] },
  { name: 'Array(1e9).fill(0) in one step', code: hostile('Array(1e9).fill(0); return undefined;'), kinds: ['throw', 'oom', 'timeout', 'crashed'] },
  { name: 'catastrophic regex backtracking', code: hostile("return { set_headers: { x: String(/^(a+)+$/.test('a'.repeat(40) + 'b')) } };"), kinds: ['timeout'] },
  { name: 'a decision of 5 MB', code: hostile("return { set_headers: { x: 'a'.repeat(5e6) } };"), kinds: ['malformed', 'timeout'] },
  { name: 'deep recursion', code: hostile('const f = (n) => f(n + 1) + 1; return f(0);'), kinds: ['throw', 'timeout'] },
  { name: 'this.constructor.constructor escape', code: hostile("return this.constructor.constructor('return process')();"), kinds: ['throw'] },
  { name: 'throwing', code: hostile("throw new Error('boom');"), kinds: ['throw'] },
  { name: 'throwing a non-error', code: hostile('throw { toString() { while (true) {} } };'), kinds: ['throw', 'timeout'] },
  { name: 'CRLF in a header value', code: hostile("return { set_headers: { 'x-a': 'v\\r\\nSet-Cookie: evil=1' } };"), kinds: ['malformed'] },
  { name: 'returning Content-Length', code: hostile("return { set_headers: { 'Content-Length': '0' } };"), kinds: ['malformed'] },
  { name: 'returning a number', code: hostile('return 42;'), kinds: ['malformed'] },
  { name: 'returning a string', code: hostile("return 'deny';"), kinds: ['malformed'] },
  { name: 'returning a function', code: hostile('return { set_headers: { x: () => 1 } };'), kinds: ['malformed'] },
  { name: 'returning a Proxy', code: hostile('return new Proxy({}, { ownKeys() { while (true) {} } });'), kinds: ['malformed', 'timeout'] },
  { name: 'returning a getter', code: hostile('return { get deny() { while (true) {} } };'), kinds: ['malformed', 'timeout'] },
  { name: 'routing outside the pools', code: hostile("return { upstream: 'http://169.254.169.254/' };", 'route'), kinds: ['malformed'], hook: 'route' },
  { name: 'routing to an unknown pool', code: hostile("return { pool: 'elsewhere' };", 'route'), kinds: ['malformed'], hook: 'route' },
];

describe('plugins: hostile plugins are contained', function () {
  this.timeout(60_000);
  const dir = new PluginDir();
  const targets = routeTargetsFrom({ app: ['http://127.0.0.1:9001'] });
  let good: Plugin;

  before(async () => {
    const file = dir.write('good.js', 'let n = 0; export function onRequest() { n++; return { set_headers: { "x-n": String(n) } }; }');
    good = await Plugin.load({ name: 'good', file, ...RELAXED });
  });
  after(() => { good.close(); dir.remove(); });

  const call = (p: Plugin, path: string, hook: 'onRequest' | 'route' = 'onRequest'): Promise<CallResult<unknown>> =>
    hook === 'route' ? p.route(requestViewFrom({ path }), targets) : p.onRequest(requestViewFrom({ path }));

  for (const c of CASES) {
    it(c.name, async () => {
      const file = dir.write(`${c.name.replace(/\W+/g, '-')}.js`, c.code);
      const p = await Plugin.load({ name: c.name, file, ...WALL, ...c.opts });
      try {
        const before = await good.onRequest(requestViewFrom({}));
        const r = await call(p, '/evil', c.hook);
        expect(r.ok, JSON.stringify(r)).to.equal(false);
        if (!r.ok) expect(c.kinds, r.error.message).to.include(r.error.kind);
        // The same plugin keeps serving good calls (a new isolate or process when needed), and the
        // neighbour plugin is untouched (its module state kept).
        expect(await call(p, '/ok', c.hook)).to.deep.include({ ok: true });
        const afterCall = await good.onRequest(requestViewFrom({}));
        expect(before.ok && afterCall.ok).to.equal(true);
        if (before.ok && afterCall.ok) {
          const n = (d: unknown) => Number((d as { set_headers: Record<string, string> }).set_headers['x-n']);
          expect(n(afterCall.decision)).to.equal(n(before.decision) + 1);
        }
      } finally {
        p.close();
      }
    });
  }

  it('require, import(), fetch, process, timers and Node globals are unavailable', async () => {
    const file = dir.write('probe.js', `
      let imported = 'pending';
      import('node:fs').then(() => { imported = 'loaded'; }, (e) => { imported = 'rejected'; });
      const probe = () => {
        const g = Function('return this')();
        const names = ['require', 'process', 'fetch', 'setTimeout', 'setInterval', 'setImmediate', 'Buffer', 'module',
          'WebAssembly', 'SharedArrayBuffer', 'Atomics', 'XMLHttpRequest', 'Deno', 'Bun'];
        const found = names.filter((n) => typeof g[n] !== 'undefined');
        const viaCtor = ({}).constructor.constructor('return typeof process')();
        return { found: found.join(',') || 'none', viaCtor, imported, globals: Object.getOwnPropertyNames(g).filter((n) => /^[a-z]/.test(n)).join(',') };
      };
      export function onRequest() { return { set_headers: probe() }; }`);
    const p = await Plugin.load({ name: 'probe', file, ...RELAXED });
    try {
      const r = await p.onRequest(requestViewFrom({}));
      expect(r.ok, JSON.stringify(r)).to.equal(true);
      const h = (r as { decision: { set_headers: Record<string, string> } }).decision.set_headers;
      expect(h.found).to.equal('none');
      expect(h.viactor).to.equal('undefined');
      expect(h.imported).to.equal('rejected');
      // Only `log` (ours) and standard ECMAScript lower-case globals.
      expect(h.globals!.split(',').filter((g) => !['log', 'globalThis', 'undefined', 'console', 'isNaN', 'isFinite', 'parseInt', 'parseFloat',
        'decodeURI', 'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'unescape', 'eval'].includes(g))).to.deep.equal([]);
    } finally {
      p.close();
    }
  });

  it('a static import is refused at load with file:line', async () => {
    const file = dir.write('imports.js', "// a plugin\nimport { readFileSync } from 'node:fs';\nexport function onRequest() {}\n");
    const err = await Plugin.load({ name: 'imports', file }).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/imports\.js:2: imports are not allowed \("node:fs"\)/);
  });

  it('logging 10 000 lines per call is capped in the isolate and rate-limited on the host', async () => {
    const logger = captureLogger();
    const file = dir.write('chatty.js', "export function onRequest() { for (let i = 0; i < 10000; i++) log.info('line', i); }");
    const p = await Plugin.load({ name: 'chatty', file, logger, ...WALL });
    try {
      logger.lines.length = 0;
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) expect((await p.onRequest(requestViewFrom({}))).ok).to.equal(true);
      const seconds = (performance.now() - t0) / 1000;
      const logged = logger.lines.filter((l) => l.msg === 'plugin log');
      // host: 100 lines a second (of the 10 × 20 the isolate lets out), for as long as a loaded machine took
      expect(logged.length).to.be.at.most(Math.min(10 * 20, 100 * (Math.ceil(seconds) + 1)));
      expect(logged[0]!.obj).to.deep.equal({ plugin: 'chatty', line: 'line 0' });
      expect(p.stats().logsDropped).to.be.at.least(10 * 10_000 - 100);
    } finally {
      p.close();
    }
  });

  it('log accepts only what it can stringify, and never hands out host objects', async () => {
    const logger = captureLogger();
    const file = dir.write('log-args.js', `export function onRequest() {
      log.warn({ toString() { return 'obj' } }, 1, null, Symbol('s'));
      return { set_headers: { 'x-log': typeof log.info + Object.isFrozen(log) } };
    }`);
    const p = await Plugin.load({ name: 'log-args', file, logger, ...RELAXED });
    try {
      const r = await p.onRequest(requestViewFrom({}));
      expect(r).to.deep.equal({ ok: true, decision: { set_headers: { 'x-log': 'functiontrue' } } });
      expect(logger.lines.find((l) => l.msg === 'plugin log')?.obj.line).to.equal('obj 1 null Symbol(s)');
    } finally {
      p.close();
    }
  });
});
