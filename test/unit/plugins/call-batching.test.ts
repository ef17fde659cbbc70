import { expect } from 'chai';
import { Plugin } from '../../../src/plugins/plugin.js';
import type { CallResult, RequestDecision, ResponseDecision, RouteDecision } from '../../../src/plugins/plugin-types.js';
import { requestViewFrom } from '../../../src/plugins/request-view.js';
import { encodeRequestView, encodeResponseView } from '../../../src/plugins/request-wire.js';
import { captureLogger, PluginDir } from './plugin-fixtures.js';

const wireFor = (path: string, headers: Record<string, string> = {}) =>
  encodeRequestView(requestViewFrom({ url: `http://app.example${path}`, headers }));

/** Queues one onRequest call per path in this turn; resolves with the results in queue order. */
function queueAll(p: Plugin, paths: string[]): Promise<CallResult<RequestDecision>[]> {
  return Promise.all(paths.map((path) => new Promise<CallResult<RequestDecision>>((resolve) => {
    p.enqueue('onRequest', [wireFor(path)], { received: resolve });
  })));
}

describe('plugins: calls queued in one turn share one crossing into the isolate', function () {
  this.timeout(20_000);
  const dir = new PluginDir();
  const open: Plugin[] = [];
  const load = (name: string, code: string, extra: Partial<Parameters<typeof Plugin.load>[0]> = {}) => {
    const p = Plugin.load({ name, file: dir.write(name, code), watchdogIntervalMs: 0, ...extra });
    open.push(p);
    return p;
  };
  afterEach(() => { for (const p of open.splice(0)) p.close(); });
  after(() => dir.remove());

  it('makes 20 queued calls in one crossing and hands each caller its own decision', async () => {
    const p = load('echo.js', `
      let seen = 0;
      export function onRequest(req) {
        seen++;
        if (req.path.startsWith('/deny')) return { deny: { status: 403, reason: 'no ' + req.path } };
        return { set_headers: { 'x-path': req.path, 'x-seen': String(seen) } };
      }`);
    const before = p.stats().crossings;
    const paths = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? `/deny/${i}` : `/ok/${i}`));
    const results = await queueAll(p, paths);
    expect(p.stats().crossings - before).to.equal(1);
    expect(p.stats().calls.onRequest.ok).to.equal(20);
    results.forEach((r, i) => {
      expect(r.ok).to.equal(true);
      const d = (r as { decision: RequestDecision }).decision as Record<string, unknown>;
      if (i % 3 === 0) expect(d).to.deep.equal({ deny: { status: 403, reason: `no /deny/${i}` } });
      // in queue order: the i-th call was the (i+2)-th the module saw (the smoke call at load was the first)
      else expect(d).to.deep.equal({ set_headers: { 'x-path': `/ok/${i}`, 'x-seen': String(i + 2) } });
    });
  });

  it('views of any size and character keep their order across the strings a batch is copied in', async () => {
    const p = load('sizes.js', `export function onRequest(req) { return { set_headers: { 'x-len': String((req.headers['x-big'] ?? '').length) + ':' + req.path } }; }`);
    const sizes = [0, 5000, 10, 999, 1000, 1, 2500, 0];
    const results = await Promise.all(sizes.map((n, i) => new Promise<CallResult<RequestDecision>>((resolve) => {
      p.enqueue('onRequest', [wireFor(`/${i}`, n ? { 'x-big': 'é€;,'.repeat(Math.ceil(n / 4)).slice(0, n) } : {})], { received: resolve });
    })));
    expect(results.map((r) => (r.ok ? (r.decision as { set_headers: Record<string, string> }).set_headers['x-len'] : r.error.kind)))
      .to.deep.equal(sizes.map((n, i) => `${n}:/${i}`));
    expect(p.stats().crossings).to.equal(1);
  });

  it('a call that throws or answers garbage fails alone; the others in its batch succeed', async () => {
    const p = load('mixed.js', `
      export function onRequest(req) {
        if (req.path === '/throw') throw new TypeError('bad\\nrequest');
        if (req.path === '/fn') return { deny: () => 1 };
        if (req.path === '/crlf') return { set_headers: { 'x-a': 'b\\r\\nx: y' } };
        return null;
      }`);
    const results = await queueAll(p, ['/a', '/throw', '/b', '/fn', '/crlf', '/c']);
    expect(p.stats().crossings).to.equal(1);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.kind))).to.deep.equal(['ok', 'throw', 'ok', 'malformed', 'malformed', 'ok']);
    const thrown = results[1] as { error: { message: string } };
    expect(thrown.error.message).to.match(/^TypeError: bad\nrequest/);
    expect(p.state).to.equal('active');
  });

  it('a runaway call in a batch: the batch is rebuilt unblamed, each call made again alone, only the runaway fails', async () => {
    const logger = captureLogger();
    const p = load('spin.js', `
      let calls = 0;
      export function onRequest(req) {
        calls++;
        if (req.path === '/spin') for (;;) {}
        return { set_headers: { 'x-calls': String(calls) } };
      }`, { timeoutMs: 30, logger });
    const results = await queueAll(p, ['/a', '/b', '/spin', '/c']);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.kind))).to.deep.equal(['ok', 'ok', 'timeout', 'ok']);
    // the isolate was rebuilt (module state reset) before the calls were made again one by one
    expect((results[3] as { decision: { set_headers: Record<string, string> } }).decision.set_headers['x-calls']).to.equal('1');
    const s = p.stats();
    expect(s.terminations).to.equal(2); // the batch, then the runaway call alone
    expect(s.state).to.equal('active');
    expect(logger.lines.some((l) => l.msg.includes('plugin batch failed'))).to.equal(true);
  });

  it('only the call that failed alone counts towards quarantine', async () => {
    const p = load('spin2.js', `export function onRequest(req) { if (req.path === '/spin') for (;;) {} return null; }`,
      { timeoutMs: 20, quarantine: { failures: 2, windowMs: 60_000 } });
    await queueAll(p, ['/a', '/spin', '/b']);
    expect(p.state).to.equal('active'); // one blamed failure of two allowed
    await queueAll(p, ['/spin', '/c']);
    expect(p.state).to.equal('quarantined');
    const before = p.stats().calls.onRequest.quarantined ?? 0;
    const refused = await queueAll(p, ['/d', '/e', '/f']);
    expect(refused.map((r) => (r.ok ? 'ok' : r.error.kind))).to.deep.equal(['quarantined', 'quarantined', 'quarantined']);
    expect((p.stats().calls.onRequest.quarantined ?? 0) - before).to.equal(3); // each refusal counted once
  });

  it('a plugin that tampers with JSON.stringify cannot shift one request\'s result onto another', async () => {
    const p = load('tamper.js', `
      const stringify = JSON.stringify;
      JSON.stringify = (v) => (v && v.set_headers && v.set_headers['x-path'] !== '/' ? stringify(v) + '\\n' + stringify(v) : stringify(v));
      export function onRequest(req) { return { set_headers: { 'x-path': req.path } }; }`);
    const results = await queueAll(p, ['/a', '/b', '/c']);
    // two lines per call: the batch is refused and each call made alone, where its answer is not JSON
    expect(results.map((r) => (r.ok ? 'ok' : r.error.kind))).to.deep.equal(['malformed', 'malformed', 'malformed']);
    expect(p.stats().terminations).to.equal(0);
  });

  it('a batch of slow calls stops at half the time limit and the rest run in the next crossing: none times out', async () => {
    const p = load('slow.js', `
      export function onRequest(req) { const until = Date.now() + 6; while (Date.now() < until) {} return null; }`,
    { timeoutMs: 40 });
    const before = p.stats().crossings;
    const results = await queueAll(p, Array.from({ length: 10 }, (_, i) => `/slow/${i}`));
    expect(results.every((r) => r.ok), JSON.stringify(results.find((r) => !r.ok))).to.equal(true);
    // 20 ms of budget per batch, 6 ms per call: 4 calls per crossing at most
    expect(p.stats().crossings - before).to.be.within(3, 10);
    expect(p.stats().terminations).to.equal(0);
  });

  it('route calls are batched too, each checked against the route targets', async () => {
    const p = load('router.js', `export function route(req) { return req.path === '/b' ? { pool: 'b' } : { pool: 'nowhere' }; }`);
    const targets = { hasPool: (name: string) => name === 'b', findUpstream: () => undefined };
    const results = await Promise.all(['/b', '/x', '/b'].map((path) => new Promise<CallResult<RouteDecision>>((resolve) => {
      p.enqueue('route', [wireFor(path)], { received: resolve }, targets);
    })));
    expect(results.map((r) => (r.ok ? r.decision : r.error.kind))).to.deep.equal([{ pool: 'b' }, 'malformed', { pool: 'b' }]);
    expect(p.stats().crossings).to.equal(1);
  });

  it('onResponse calls can be queued too: each gets its own response and request', async () => {
    const p = load('resp.js', `export function onResponse(res, req) { return { set_headers: { 'x-seen': req.path + ' ' + res.status } }; }`);
    const response = (status: number) => encodeResponseView({ status, headers: { 'content-type': 'text/plain' } });
    const results = await Promise.all([['/a', 200], ['/b', 404], ['/c', 503]].map(([path, status]) => new Promise<CallResult<ResponseDecision>>((resolve) => {
      p.enqueue('onResponse', [response(status as number), wireFor(path as string)], { received: resolve });
    })));
    expect(results.map((r) => (r.ok ? r.decision : r.error.kind))).to.deep.equal([
      { set_headers: { 'x-seen': '/a 200' } }, { set_headers: { 'x-seen': '/b 404' } }, { set_headers: { 'x-seen': '/c 503' } }]);
    expect(p.stats().crossings).to.equal(1);
  });

  it('a caller whose callback throws does not keep the rest of the batch from their results', async () => {
    const logger = captureLogger();
    const p = load('ok.js', 'export function onRequest() { return null; }', { logger });
    const got: string[] = [];
    await new Promise<void>((resolve) => {
      p.enqueue('onRequest', [wireFor('/1')], { received: () => { got.push('1'); throw new Error('caller bug'); } });
      p.enqueue('onRequest', [wireFor('/2')], { received: () => { got.push('2'); resolve(); } });
    });
    expect(got).to.deep.equal(['1', '2']);
    expect(logger.lines.some((l) => l.level === 'error' && String(l.obj.err).includes('caller bug'))).to.equal(true);
  });

  it('calls queued on a plugin that is unloaded before they are made fail as disposed, without a new isolate', async () => {
    const p = load('gone.js', 'export function onRequest() { return null; }');
    const pending = queueAll(p, ['/a', '/b']);
    p.close();
    const results = await pending;
    expect(results.map((r) => (r.ok ? 'ok' : r.error.kind))).to.deep.equal(['disposed', 'disposed']);
    expect(p.stats().rebuilds).to.equal(0);
  });
});
