/**
 * POST /simulate on the admin API: the listener's real stages run dry. The answer says who would answer and
 * with which decisions; nothing reaches an upstream, the balancer does not advance, nothing is logged or cached.
 */
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import { send } from '../helpers/http-client.js';
import { scratch, stubLookup } from '../helpers/forward.js';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';

interface Step { step: string; [k: string]: unknown }
interface Result { answered_by: string; status?: number; upstream?: string; route?: string; rule?: string; error?: string; trace: { steps: Step[] } }

const post = (p: TestProxy, body: unknown, headers: Record<string, string> = {}) =>
  send(`${p.adminUrl()}/simulate`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
const step = (r: Result, name: string) => r.trace.steps.find((s) => s.step === name);

describe('simulator: POST /simulate', () => {
  let a: Origin;
  let b: Origin;
  let p: TestProxy;
  const accessLines = () => p.logs.filter((l) => l.msg === 'access').length;
  before(async () => {
    a = await startOrigin((req, res) => { req.resume(); res.setHeader('cache-control', 'max-age=60'); res.end('a'); });
    b = await startOrigin('b');
    const users = scratch().write('users', `alice:${bcrypt.hashSync('wonder', 5)}\n`);
    p = await startProxy({
      admin: { listen: '127.0.0.1:0', token: 'sekret' },
      reverse: [{ routes: [{ name: 'static', match: { path_prefix: '/static' }, pool: 'app', cache: true }, { name: 'api', match: {}, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: a.url }, { url: b.url }] } },
      forward: [{
        allow_destinations: ['127.0.0.1'], cache: false, auth: { users_file: users },
        acl: [{ name: 'finance-no-delete', deny: { method: ['DELETE'] } }, { name: 'finance', allow: { user: ['alice'], dst_domain: ['.bank.test'] } }],
      }],
    }, { forwardLookup: stubLookup({ 'pay.bank.test': '127.0.0.1', 'intranet.test': '10.9.9.9', 'other.test': '127.0.0.1' }) });
  });
  after(async () => { await p.close(); await a.close(); await b.close(); });
  const auth = { authorization: 'Bearer sekret' };

  it('answers the route and the upstream the balancer would pick, without sending or advancing it', async () => {
    const before = accessLines();
    const noToken = await post(p, { url: 'http://app.test/api/x' });
    expect(noToken.status, 'guarded like a change: admin.token is required').to.equal(401);
    const body = { listener: 'reverse[0]', src: '192.0.2.7', method: 'GET', url: 'http://app.test/api/x' };
    const one = JSON.parse((await post(p, body, auth)).body) as Result;
    const two = JSON.parse((await post(p, body, auth)).body) as Result;
    expect(one).to.include({ answered_by: 'upstream', route: 'api', upstream: a.url });
    expect(two.upstream, 'round robin did not advance').to.equal(a.url);
    expect(step(one, 'balancer')).to.deep.include({ policy: 'round_robin', candidates: [a.url, b.url], pick: a.url });
    expect(a.seen.length + b.seen.length).to.equal(0);
    expect(accessLines()).to.equal(before);
    // the first real request still goes where the simulation said
    const real = await send(`${p.url()}/api/x`);
    expect(real.body).to.equal('a');
  });

  it('says when the cache would answer, and stores nothing itself', async () => {
    const body = { url: `${p.url()}/static/logo.png` };
    const miss = JSON.parse((await post(p, body, auth)).body) as Result;
    expect(step(miss, 'cache')).to.include({ lookup: 'uri-miss' });
    expect(miss.answered_by).to.equal('upstream');
    // still a miss: the simulation stored nothing
    const again = JSON.parse((await post(p, body, auth)).body) as Result;
    expect(step(again, 'cache')).to.include({ lookup: 'uri-miss' });
    const seen = a.seen.length + b.seen.length;
    await send(`${p.url()}/static/logo.png`); // round robin: the next real pick is b, which sends no max-age
    await send(`${p.url()}/static/logo.png`);
    const hit = JSON.parse((await post(p, body, auth)).body) as Result;
    expect(a.seen.length + b.seen.length).to.equal(seen + 2);
    expect(step(hit, 'cache')).to.include({ lookup: 'hit', reason: 'fresh' });
    expect(hit).to.include({ answered_by: 'cache', status: 200 });
  });

  it('runs a forward listener\'s policy for a user: ACL rule and index, SSRF verdict, nothing sent', async () => {
    const ok = JSON.parse((await post(p, { listener: 'forward[0]', user: 'alice', url: 'http://pay.bank.test/transfer' }, auth)).body) as Result;
    expect(ok).to.include({ answered_by: 'upstream', rule: 'finance', upstream: 'http://127.0.0.1:80' });
    expect(step(ok, 'auth')).to.include({ result: 'simulated', user: 'alice' });
    expect(step(ok, 'acl')).to.include({ action: 'allow', rule: 'finance', index: 1 });
    expect(step(ok, 'ssrf')).to.include({ verdict: 'allowed', address: '127.0.0.1' });
    const del = JSON.parse((await post(p, { listener: 'forward[0]', user: 'alice', method: 'DELETE', url: 'http://pay.bank.test/x' }, auth)).body) as Result;
    expect(del).to.include({ answered_by: 'proxy', status: 403, rule: 'finance-no-delete' });
    const other = JSON.parse((await post(p, { listener: 'forward[0]', user: 'alice', url: 'http://other.test/' }, auth)).body) as Result;
    expect(other).to.include({ status: 403, rule: 'default' });
    const anonymous = JSON.parse((await post(p, { listener: 'forward[0]', url: 'http://pay.bank.test/' }, auth)).body) as Result;
    expect(anonymous).to.include({ status: 407 });
  });

  it('refuses bad input with the field named', async () => {
    const noUrl = await post(p, { listener: 'reverse[0]' }, auth);
    expect(noUrl.status).to.equal(400);
    expect(noUrl.body).to.include('url:');
    const badSrc = await post(p, { url: 'http://x.test/', src: 'nope' }, auth);
    expect(badSrc.body).to.include('src:');
    const noListener = await post(p, { url: 'http://x.test/', listener: 'reverse[9]' }, auth);
    expect(noListener.status).to.equal(400);
    expect(noListener.body).to.include('reverse[0], forward[0]');
  });

  it('plugins see req.dry_run in a simulation, and only there', async () => {
    const dir = scratch();
    // answers 451 in a simulation, passes real requests
    dir.write('dry.js', 'export function onRequest(req) { if (req.dry_run) return { deny: { status: 451, reason: "simulated" } }; }');
    const o = await startOrigin('real');
    const q = await startProxy({
      admin: { listen: '127.0.0.1:0', token: 'sekret' },
      plugins: { dir: dir.dir, watch: false },
      reverse: [{ routes: [{ match: {}, pool: 'app', plugins: ['dry.js'] }] }],
      pools: { app: { upstreams: [{ url: o.url }] } },
    });
    try {
      const sim = JSON.parse((await post(q, { url: 'http://app.test/x' }, auth)).body) as Result;
      expect(sim.status).to.equal(451);
      expect(o.seen.length).to.equal(0);
      expect((await send(`${q.url()}/x`)).body).to.equal('real');
    } finally {
      await q.close();
      await o.close();
    }
  });
});
