/**
 * The decision trace through the real proxy: shown to a trusted client that asks (X-Gatehouse-Trace),
 * never to others; kept for GET /trace/ID on the admin API; written to the access line with log.trace;
 * and what it says about routes, balancers, retries, the cache, the ACL, block lists and the SSRF guard.
 */
import { expect } from 'chai';
import { send } from '../helpers/http-client.js';
import { basic, scratch, stubLookup, viaProxy } from '../helpers/forward.js';
import { simpleReverse, startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import bcrypt from 'bcryptjs';
import { PluginDir } from '../unit/plugins/plugin-fixtures.js';
import { refusedUrl } from '../helpers/addresses.js';

interface Step { step: string; [k: string]: unknown }
interface Trace { id: string; status: number; steps: Step[] }

const ASK = { 'x-gatehouse-trace': '1' };
const traceOf = (headers: Record<string, unknown>): Trace => JSON.parse(String(headers['x-gatehouse-trace'])) as Trace;
const stepsNamed = (t: Trace, name: string) => t.steps.filter((s) => s.step === name);

/** A loopback port nothing listens on (bound, then closed). */
describe('decision trace', () => {
  let origin: Origin;
  before(async () => {
    origin = await startOrigin((req, res) => {
      req.resume();
      // an upstream cannot forge a trace
      res.setHeader('x-gatehouse-trace', '{"forged":true}');
      res.setHeader('cache-control', req.url === '/cached' ? 'max-age=60' : 'private');
      res.end('hello');
    });
  });
  after(() => origin.close());

  it('shows a trusted client that asks the route, balancer pick, upstream and cache decisions', async () => {
    const p = await startProxy({ ...simpleReverse([origin.url], {}, { name: 'app-route', cache: true }), trace: { allow: ['127.0.0.0/8'] } });
    try {
      const first = await send(`${p.url()}/cached`, { headers: ASK });
      expect(first.status).to.equal(200);
      const t1 = traceOf(first.headers);
      expect(t1.id).to.equal(first.headers['x-request-id']);
      expect(t1.status).to.equal(200);
      expect(stepsNamed(t1, 'route')[0]).to.include({ route: 'app-route', pool: 'app' });
      expect(stepsNamed(t1, 'cache')[0]).to.include({ lookup: 'uri-miss' });
      const balancer = stepsNamed(t1, 'balancer')[0]!;
      expect(balancer).to.include({ pool: 'app', policy: 'round_robin', pick: origin.url });
      expect(balancer.candidates).to.deep.equal([origin.url]);
      const upstream = stepsNamed(t1, 'upstream')[0]!;
      expect(upstream).to.include({ upstream: origin.url, status: 200 });
      expect(upstream.head_us).to.be.a('number');
      expect(stepsNamed(t1, 'cache_outcome')[0]?.result).to.match(/stored/);

      const second = await send(`${p.url()}/cached`, { headers: ASK });
      const t2 = traceOf(second.headers);
      expect(stepsNamed(t2, 'cache')[0]).to.include({ lookup: 'hit', reason: 'fresh' });
      expect(stepsNamed(t2, 'upstream')).to.have.length(0);

      const priv = traceOf((await send(`${p.url()}/private`, { headers: ASK })).headers);
      expect(stepsNamed(priv, 'cache_outcome')[0]).to.include({ reason: 'not storable: private' });
    } finally { await p.close(); }
  });

  it('never shows the trace to a client outside trace.allow, nor to one that did not ask', async () => {
    const p = await startProxy({ ...simpleReverse([origin.url]), trace: { allow: ['10.0.0.0/8'] } });
    const q = await startProxy({ ...simpleReverse([origin.url]), trace: { allow: ['127.0.0.0/8'] } });
    try {
      const untrusted = await send(`${p.url()}/`, { headers: ASK });
      expect(untrusted.status).to.equal(200);
      expect(untrusted.headers['x-gatehouse-trace']).to.equal('{"forged":true}'); // the origin's own header, untouched: no trace of ours
      const unasked = await send(`${q.url()}/`);
      expect(unasked.headers['x-gatehouse-trace']).to.equal('{"forged":true}');
      const asked = await send(`${q.url()}/`, { headers: ASK });
      expect(traceOf(asked.headers).steps).to.be.an('array').that.is.not.empty;
      expect(String(asked.headers['x-gatehouse-trace'])).not.to.include('forged');
    } finally { await p.close(); await q.close(); }
  });

  it('explains errors: no route, and a retry on another upstream after a refused connection', async () => {
    const dead = refusedUrl();
    const p = await startProxy({
      reverse: [{ routes: [{ name: 'only-api', match: { path_prefix: '/api' }, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: dead }, { url: origin.url }], retries: 1 } },
      trace: { allow: ['127.0.0.1/32'] },
    });
    try {
      const none = await send(`${p.url()}/elsewhere`, { headers: ASK });
      expect(none.status).to.equal(404);
      expect(stepsNamed(traceOf(none.headers), 'error')[0]).to.include({ kind: 'no_route', status: 404 });
      // round robin: one of two requests starts on the dead upstream and is retried on the live one
      const traces = [traceOf((await send(`${p.url()}/api`, { headers: ASK })).headers), traceOf((await send(`${p.url()}/api`, { headers: ASK })).headers)];
      const retried = traces.find((t) => stepsNamed(t, 'retry').length > 0)!;
      expect(retried, 'one request retried').to.not.equal(undefined);
      expect(retried.status).to.equal(200);
      expect(stepsNamed(retried, 'retry')[0]).to.include({ from: dead, why: 'ECONNREFUSED', next: origin.url });
      expect(stepsNamed(retried, 'upstream')[0]).to.include({ upstream: dead, failed: 'ECONNREFUSED' });
    } finally { await p.close(); }
  });

  it('names the plugins of a route, what they decided and how long they took', async function () {
    this.timeout(30_000);
    const dir = new PluginDir();
    dir.write('gate.js', "export function onRequest(req) { if (req.path === '/stop') return { deny: { status: 403, reason: 'no' } }; }\n");
    const p = await startProxy({
      ...simpleReverse([origin.url], {}, { plugins: ['gate.js'] }), plugins: { dir: dir.dir, watch: false }, trace: { allow: ['127.0.0.1/32'] },
    });
    try {
      const goTrace = traceOf((await send(`${p.url()}/go`, { headers: ASK })).headers);
      const passed = stepsNamed(goTrace, 'plugins')[0]!;
      expect(passed).to.deep.include({ plugins: ['gate.js'], decision: 'continue' });
      expect(passed.us).to.be.a('number');
      // each hook call: the plugin, its decision and its own µs
      const call = stepsNamed(goTrace, 'plugin')[0]!;
      expect(call).to.deep.include({ plugin: 'gate', hook: 'onRequest', decision: 'continue' });
      expect(call.us).to.be.a('number');
      const stopped = await send(`${p.url()}/stop`, { headers: ASK });
      expect(stopped.status).to.equal(403);
      const t = traceOf(stopped.headers);
      expect(stepsNamed(t, 'plugins')[0]).to.include({ decision: 'refused', status: 403 });
      expect(stepsNamed(t, 'plugin')[0]).to.include({ plugin: 'gate', hook: 'onRequest', decision: 'deny' });
      expect(stepsNamed(t, 'plugin_outcome')[0]).to.include({ plugin: 'gate' });
    } finally { await p.close(); dir.remove(); }
  });

  it('keeps the last N traces for GET /trace/ID and writes them to the access line with log.trace', async () => {
    const p: TestProxy = await startProxy({
      ...simpleReverse([origin.url]), trace: { keep: 2 }, log: { trace: true }, admin: { listen: '127.0.0.1:0' },
    });
    try {
      for (const id of ['req-a', 'req-b', 'req-c']) {
        const r = await send(`${p.url()}/`, { headers: { 'x-request-id': id, ...ASK } });
        // kept and logged, but the client is not in trace.allow
        expect(r.headers['x-gatehouse-trace']).to.equal('{"forged":true}');
      }
      const kept = await send(`${p.adminUrl()}/trace/req-c`);
      expect(kept.status).to.equal(200);
      const t = JSON.parse(kept.body) as Trace;
      expect(t).to.include({ id: 'req-c', status: 200 });
      expect(stepsNamed(t, 'route')).to.have.length(1);
      expect((await send(`${p.adminUrl()}/trace/req-b`)).status).to.equal(200);
      const gone = await send(`${p.adminUrl()}/trace/req-a`);
      expect(gone.status).to.equal(404);
      expect(gone.body).to.include('only the last 2');
      const line = p.logs.find((l) => l.msg === 'access' && l.reqId === 'req-c') as { trace?: Trace } | undefined;
      expect(line?.trace?.steps.map((s) => s.step)).to.include.members(['route', 'balancer', 'upstream']);
    } finally { await p.close(); }
  });

  it('adds nothing to the access line and keeps nothing when trace is off', async () => {
    const p = await startProxy({ ...simpleReverse([origin.url]), admin: { listen: '127.0.0.1:0' } });
    try {
      await send(`${p.url()}/`, { headers: { 'x-request-id': 'off-1', ...ASK } });
      expect(p.logs.find((l) => l.msg === 'access' && l.reqId === 'off-1')).to.not.have.property('trace');
      const r = await send(`${p.adminUrl()}/trace/off-1`);
      expect(r.status).to.equal(404);
      expect(r.body).to.include('trace.keep is 0');
    } finally { await p.close(); }
  });

  describe('forward listener', () => {
    const lookup = stubLookup({ 'ok.test': '127.0.0.1', 'ads.test': '127.0.0.1', 'inside.test': '10.1.2.3' });
    const files = scratch();
    const users = files.write('users', `alice:${bcrypt.hashSync('wonder', 5)}\n`);
    let p: TestProxy;
    let port: number;
    before(async () => {
      p = await startProxy({
        forward: [{
          allow_destinations: ['127.0.0.1'], cache: false, block_domains: ['ads.test'],
          auth: { users_file: users },
          acl: [{ name: 'no-deletes', deny: { method: ['DELETE'] } }, { name: 'staff', allow: { user: ['alice'] } }],
        }],
        trace: { allow: ['127.0.0.1/32'] },
      }, { forwardLookup: lookup });
      port = Number(new URL(p.forwardUrl()).port);
    });
    after(() => p.close());
    const alice = { 'proxy-authorization': basic('alice', 'wonder'), ...ASK };

    it('names the auth result, the ACL rule and its index, and the SSRF verdict with the address', async () => {
      const ok = await viaProxy(port, `http://ok.test:${origin.port}/`, { headers: alice });
      expect(ok.status).to.equal(200);
      const t = traceOf(ok.headers);
      expect(stepsNamed(t, 'auth')[0]).to.include({ result: 'ok', user: 'alice' });
      expect(stepsNamed(t, 'acl')[0]).to.include({ action: 'allow', rule: 'staff', index: 1 });
      expect(stepsNamed(t, 'ssrf')[0]).to.include({ host: 'ok.test', verdict: 'allowed', address: '127.0.0.1' });
      expect(stepsNamed(t, 'upstream')[0]).to.include({ status: 200 });

      const wrong = traceOf((await viaProxy(port, `http://ok.test:${origin.port}/`, { headers: { ...alice, 'proxy-authorization': basic('alice', 'nope') } })).headers);
      expect(stepsNamed(wrong, 'auth')[0]).to.include({ result: 'failed', user: 'alice' });
      expect(wrong.status).to.equal(407);
    });

    it('names the denying rule: ACL, block list, SSRF guard', async () => {
      const del = await viaProxy(port, `http://ok.test:${origin.port}/`, { method: 'DELETE', headers: alice });
      expect(del.status).to.equal(403);
      expect(stepsNamed(traceOf(del.headers), 'acl')[0]).to.include({ action: 'deny', rule: 'no-deletes', index: 0 });
      const ads = await viaProxy(port, `http://ads.test:${origin.port}/`, { headers: alice });
      expect(ads.status).to.equal(403);
      expect(stepsNamed(traceOf(ads.headers), 'denied')[0]).to.include({ by: 'block_list' });
      const inside = await viaProxy(port, `http://inside.test:${origin.port}/`, { headers: alice });
      expect(inside.status).to.equal(403);
      const ssrf = stepsNamed(traceOf(inside.headers), 'ssrf')[0]!;
      expect(ssrf).to.include({ host: 'inside.test', verdict: 'denied' });
      expect(String(ssrf.reason)).to.include('10.1.2.3');
    });
  });
});
