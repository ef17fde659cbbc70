import { expect } from 'chai';
import { Plugin } from '../../../src/plugins/plugin.js';
import { requestViewFrom } from '../../../src/plugins/request-view.js';
import type { RequestView } from '../../../src/plugins/plugin-types.js';
import { PluginDir } from './plugin-fixtures.js';

// The request view is built inside the isolate only when the hook first looks at it (and its
// headers only when more than three reads of single headers are asked of them), unless the hook
// walks its views so much that building them up front is cheaper: isolate-shims.ts. Each probe
// below runs once in a plugin, on a fresh view, and once here on a plain copy of the same view; a
// view that differed from plain data in any way a plugin can see would fail the comparison.
const PROBES: string[] = [
  '(req) => req.path',
  "(req) => req.headers['user-agent']",
  "(req) => [req.headers['x-missing'], req.headers['x-empty'], req.headers.cookie]",
  '(req) => [req.headers.toString === Object.prototype.toString, req.headers.constructor === Object]',
  "(req) => [req.headers.__proto__ === Object.prototype, 'toString' in req.headers, 'cookie' in req.headers, 'nope' in req.headers]",
  "(req) => [req.headers.accept, req.headers.cookie, req.headers.host, req.headers['user-agent'], req.headers['x-empty'], Object.keys(req.headers)]",
  '(req) => ({ ...req })',
  '(req) => JSON.stringify(req)',
  '(req) => [Object.keys(req), Object.entries(req.headers), Object.assign({}, req.headers)]',
  '(req) => { const out = []; for (const k in req.headers) out.push(k); for (const k in req) out.push(k); return out; }',
  "(req) => [Object.getPrototypeOf(req) === Object.prototype, Object.getPrototypeOf(req.headers) === Object.prototype, Object.getOwnPropertyDescriptor(req, 'path'), Object.getOwnPropertyDescriptor(req.headers, 'cookie'), Object.isFrozen(req), Object.isExtensible(req.headers)]",
  "(req) => { req.path = '/x'; req.headers.cookie = 'z=9'; req.headers['x-new'] = 'n'; return [req.path, req.headers.cookie, req.headers['x-new'], Object.keys(req.headers), req]; }",
  "(req) => { req.headers['x-new'] = 'n'; return req.headers['x-new']; }",
  "(req) => { delete req.headers.cookie; delete req.query; return [req.headers.cookie, 'query' in req, Object.keys(req.headers), Object.keys(req)]; }",
  "(req) => { Object.freeze(req.headers); try { req.headers.cookie = 'z'; return 'no throw'; } catch (e) { return [e.name, req.headers.cookie, Object.isFrozen(req.headers)]; } }",
  "(req) => { Object.defineProperty(req, 'path', { value: '/d', enumerable: false }); return [req.path, Object.keys(req)]; }",
  "(req) => { Object.setPrototypeOf(req.headers, { inherited: 'i' }); return [req.headers.inherited, req.headers.cookie, Object.keys(req.headers)]; }",
  '(req) => [req.headers === req.headers, req.client === req.client, req.client, req.tls, req.route, req.method, req.url, req.host, req.query, req.id, req.mode]',
  '(req) => Reflect.ownKeys(req.headers)',
  "(req) => { Object.defineProperty(req, 'self', { get() { return this === req; } }); Object.defineProperty(req.headers, 'me', { get() { return this; }, set(v) { this.seen = this === req.headers; } }); req.headers.me = 1; return [req.self, req.headers.me === req.headers, req.headers.seen]; }",
];

/** A probe's value as text: JSON, with undefined and functions kept apart from null. */
const SHOW = "(v) => typeof v + ':' + JSON.stringify(v)";

describe('plugins: the lazy request view behaves as plain data', () => {
  const dir = new PluginDir();
  const view: RequestView = requestViewFrom({ method: 'get', url: 'http://shop.test/cart?id=3', route: 'app',
    tls: { sni: 'shop.test', version: 'TLSv1.3' }, client: { ip: '10.0.0.7', port: 4242, user: 'ann' },
    headers: { host: 'shop.test', 'user-agent': 'ua/1', cookie: 'a=1; b=2', 'x-empty': '', accept: '*/*' } });
  const show = new Function(`return ${SHOW}`)() as (v: unknown) => string;
  after(() => dir.remove());

  // A hook that walks the whole view is given plain objects after a sample of calls (see the
  // shim): the probes run on both kinds.
  for (const [kind, busyCalls] of [['a lazy view', 0], ['a view built up front (after busy calls)', 40]] as const) {
    describe(kind, () => {
      let plugin: Plugin;
      before(() => {
        // Each call runs the next probe, chosen by module state: reading the request to pick one
        // would already fill the view. The first call is the load's smoke call.
        plugin = Plugin.load({ name: 'probes', watchdogIntervalMs: 0, file: dir.write(`probes-${busyCalls}.js`, `
          const probes = [${PROBES.join(',\n')}];
          const show = ${SHOW};
          let next = -1 - ${busyCalls};
          export function onRequest(req) {
            if (next++ < 0) { JSON.stringify(req); return null; }
            const probe = probes[(next - 1) % probes.length];
            let body;
            try { body = show(probe(req)); } catch (e) { body = 'throws:' + e.name; }
            return { respond: { status: 200, headers: {}, body } };
          }`) });
        for (let i = 0; i < busyCalls; i++) plugin.onRequest(view);
      });
      after(() => plugin.close());

      PROBES.forEach((source, i) => {
        it(`probe ${i}: ${source.slice(0, 90)}`, () => {
          const probe = new Function(`'use strict'; return (${source})`)() as (req: RequestView) => unknown;
          let expected: string;
          try { expected = show(probe(structuredClone(view))); } catch (e) { expected = `throws:${(e as Error).name}`; }
          const r = plugin.onRequest(view);
          if (!r.ok || r.decision === null || !('respond' in r.decision)) throw new Error(JSON.stringify(r));
          expect(r.decision.respond.body).to.equal(expected);
        });
      });
    });
  }

  // The plugins below wrap String.prototype.slice, which the shim uses to cut each field out of
  // the wire string, and count the cuts: those made inside the hook, and those made before it.
  const CUT_COUNTER = `
    let cuts = 0;
    const slice = String.prototype.slice;
    String.prototype.slice = function (...a) { cuts++; return slice.apply(this, a); };`;
  const bodyOf = (r: ReturnType<Plugin['onRequest']>): string => {
    if (!r.ok || r.decision === null || !('respond' in r.decision)) throw new Error(JSON.stringify(r));
    return r.decision.respond.body;
  };
  const headers = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-${i}`, `v${i}`]));

  it('is built only as far as the hook reads it', () => {
    const counter = Plugin.load({ name: 'counter', watchdogIntervalMs: 0, file: dir.write('counter.js', `${CUT_COUNTER}
      const reads = [(req) => 0, (req) => req.path, (req) => req.headers['x-9'], (req) => Object.keys(req.headers)];
      let call = -1;
      export function onRequest(req) {
        if (call++ < 0) return null; // the load's smoke call
        cuts = 0;
        reads[call - 1](req);
        return { respond: { status: 200, headers: {}, body: String(cuts) } };
      }`) });
    try {
      const cuts = [0, 1, 2, 3].map(() => Number(bodyOf(counter.onRequest(requestViewFrom({ headers })))));
      const [nothing, path, oneHeader, allHeaders] = cuts as [number, number, number, number];
      expect(nothing, 'a hook that reads nothing').to.equal(0);
      expect(path, 'the path: the request fields, not the headers').to.be.within(1, 15);
      expect(oneHeader - path, 'one header: one cut besides the fields').to.equal(1);
      expect(allHeaders - path, 'all headers: a name and a value for each').to.be.at.least(40);
    } finally { counter.close(); }
  });

  it('a hook that walks the whole view soon gets it built up front; one that reads little does not', () => {
    const load = (name: string, read: string) => Plugin.load({ name, watchdogIntervalMs: 0, file: dir.write(`${name}.js`, `${CUT_COUNTER}
      export function onRequest(req) {
        const before = cuts; // made since the last call returned: building the view up front
        ${read};
        cuts = 0;
        return { respond: { status: 200, headers: {}, body: String(before) } };
      }`) });
    const walker = load('walker', 'JSON.stringify(req)');
    const reader = load('reader', "req.path + req.headers['x-3']");
    try {
      const cutsBefore = (p: Plugin) => Array.from({ length: 40 }, () => Number(bodyOf(p.onRequest(requestViewFrom({ headers })))));
      const walked = cutsBefore(walker), read = cutsBefore(reader);
      expect(walked.slice(0, 20), 'lazy while sampled').to.deep.equal(Array(20).fill(0));
      expect(walked.at(-1), 'built up front after the sample').to.be.at.least(40);
      expect(read, 'lazy throughout').to.deep.equal(Array(40).fill(0));
    } finally { walker.close(); reader.close(); }
  });

  it('a decision made of the view itself crosses back as plain data', () => {
    const echo = Plugin.load({ name: 'echo-headers', watchdogIntervalMs: 0,
      file: dir.write('echo-headers.js', 'export function onRequest(req) { const { host, ...rest } = req.headers; return { set_headers: rest }; }') });
    try {
      const r = echo.onRequest(requestViewFrom({ headers: { 'x-a': '1', 'x-b': '' } }));
      expect(r).to.deep.equal({ ok: true, decision: { set_headers: { 'x-a': '1', 'x-b': '' } } });
    } finally { echo.close(); }
  });

  it('a view kept in module state is still whole in a later call', () => {
    const keeper = Plugin.load({ name: 'keeper', watchdogIntervalMs: 0, file: dir.write('keeper.js', `
      let first = null, calls = 0;
      export function onRequest(req) {
        if (calls++ < 2) { first = req; return null; } // the smoke call, then the first test call
        return { respond: { status: 200, headers: {}, body: first.path + ' ' + first.headers['x-n'] + ' ' + req.path } };
      }`) });
    try {
      expect(keeper.onRequest(requestViewFrom({ path: '/one', headers: { 'x-n': '1' } }))).to.deep.equal({ ok: true, decision: null });
      const r = keeper.onRequest(requestViewFrom({ path: '/two', headers: { 'x-n': '2' } }));
      expect(r.ok && r.decision && 'respond' in r.decision && r.decision.respond.body).to.equal('/one 1 /two');
    } finally { keeper.close(); }
  });
});
