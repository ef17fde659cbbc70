/** Sticky sessions through the real proxy: cookie pinning, forgery, failover with a new cookie, source-address mode. */
import { expect } from 'chai';
import { startOrigin, startProxy, simpleReverse, type Origin, type TestProxy } from '../helpers/loopback.js';
import { loadAgent, runLoad, shoot, tally, type Shot } from '../helpers/load.js';

const cookieOf = (s: Shot) => {
  const v = s.headers['set-cookie'];
  return Array.isArray(v) ? v : v === undefined ? [] : [v];
};
const valueOf = (setCookie: string) => /^GH_SERVER_ID=([^;]*)/.exec(setCookie)![1]!;

describe('e2e: sticky sessions', function () {
  this.timeout(20_000);
  const agent = loadAgent();
  let origins: Origin[] = [];
  const proxies: TestProxy[] = [];
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(origins.map((o) => o.close()));
  });
  after(() => agent.close());

  async function setup(pool: Record<string, unknown> = {}, top: Record<string, unknown> = {}) {
    origins = await Promise.all(['a', 'b', 'c'].map((n) => startOrigin(n)));
    const p = await startProxy({ ...simpleReverse(origins.map((o) => o.url), { sticky: { cookie: 'GH_SERVER_ID' }, ...pool }), ...top });
    proxies.push(p);
    return p;
  }

  it('sets an opaque cookie with Path, HttpOnly, Secure and SameSite, and keeps the client on one upstream for 100 requests', async () => {
    const proxy = await setup();
    const first = await shoot(agent, `${proxy.url()}/`);
    const [setCookie] = cookieOf(first);
    expect(setCookie).to.match(/^GH_SERVER_ID=[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    for (const o of origins) {
      expect(setCookie).not.to.include(String(o.port));
      expect(setCookie).not.to.include(Buffer.from(o.url).toString('base64url').slice(0, 8));
    }
    const cookie = `other=1; GH_SERVER_ID=${valueOf(setCookie!)}`;
    const shots = await runLoad(100, 8, () => shoot(agent, `${proxy.url()}/`, { headers: { cookie } }));
    expect(tally(shots.map((s) => s.body))).to.deep.equal({ [first.body]: 100 });
    // the cookie is already right: not sent again
    expect(shots.filter((s) => cookieOf(s).length > 0)).to.have.length(0);
    // without it, the pool's balancer spreads requests, each with its upstream's cookie
    const fresh = await runLoad(30, 1, () => shoot(agent, `${proxy.url()}/`));
    expect(tally(fresh.map((s) => s.body))).to.deep.equal({ a: 10, b: 10, c: 10 });
    const values = new Map(fresh.map((s) => [s.body, valueOf(cookieOf(s)[0]!)]));
    expect(new Set(values.values()).size).to.equal(3);
    expect(values.get(first.body)).to.equal(valueOf(setCookie!));
  });

  it('a forged or mangled cookie is ignored: the request is rebalanced and gets a real cookie', async () => {
    const proxy = await setup();
    const forged = ['AAAAAAAAAAAAAAAAAAAAAA', 'http://127.0.0.1:1', 'x'.repeat(200), Buffer.from(origins[0]!.url).toString('base64url')];
    const shots = await runLoad(30, 1, (i) => shoot(agent, `${proxy.url()}/`, { headers: { cookie: `GH_SERVER_ID=${forged[i % forged.length]}` } }));
    expect(tally(shots.map((s) => s.body))).to.deep.equal({ a: 10, b: 10, c: 10 });
    for (const s of shots) expect(cookieOf(s)).to.have.length(1);
  });

  it('the sticky upstream goes down: the request fails over, the cookie is rewritten, and the client sticks to the new one', async () => {
    const proxy = await setup({ retries: 2 });
    const first = await shoot(agent, `${proxy.url()}/`);
    const oldValue = valueOf(cookieOf(first)[0]!);
    await origins.find((o) => o.seen.length > 0)!.close();
    const moved = await shoot(agent, `${proxy.url()}/`, { headers: { cookie: `GH_SERVER_ID=${oldValue}` } });
    expect(moved.status).to.equal(200);
    expect(moved.body).not.to.equal(first.body);
    const rewritten = cookieOf(moved);
    expect(rewritten, 'exactly one Set-Cookie, for the upstream that answered').to.have.length(1);
    const newValue = valueOf(rewritten[0]!);
    expect(newValue).not.to.equal(oldValue);
    const after = await runLoad(20, 4, () => shoot(agent, `${proxy.url()}/`, { headers: { cookie: `GH_SERVER_ID=${newValue}` } }));
    expect(tally(after.map((s) => s.body))).to.deep.equal({ [moved.body]: 20 });
  });

  it('cookie values are stable across restarts and nodes with the same node_id; a configured secret changes them', async () => {
    const p1 = await setup();
    const first = await shoot(agent, `${p1.url()}/`);
    const cfg = simpleReverse(origins.map((o) => o.url), { sticky: { cookie: 'GH_SERVER_ID' } });
    const p2 = await startProxy(cfg);
    proxies.push(p2);
    const again = await shoot(agent, `${p2.url()}/`, { headers: { cookie: `GH_SERVER_ID=${valueOf(cookieOf(first)[0]!)}` } });
    expect(again.body).to.equal(first.body);
    expect(cookieOf(again)).to.have.length(0);
    const p3 = await startProxy(simpleReverse(origins.map((o) => o.url), { sticky: { cookie: 'GH_SERVER_ID', secret: 's3cret', secure: false, same_site: 'Strict', http_only: false } }));
    proxies.push(p3);
    const other = await shoot(agent, `${p3.url()}/`, { headers: { cookie: `GH_SERVER_ID=${valueOf(cookieOf(first)[0]!)}` } });
    const [sc] = cookieOf(other);
    expect(sc).to.match(/^GH_SERVER_ID=[A-Za-z0-9_-]{22}; Path=\/; SameSite=Strict$/);
  });

  it('sticky mode ip: each client (from a trusted X-Forwarded-For) stays on one upstream', async () => {
    const proxy = await setup({ sticky: { mode: 'ip' }, balance: 'least_conn' });
    const shots = await runLoad(400, 8, (i) => shoot(agent, `${proxy.url()}/`, { headers: { 'x-forwarded-for': `192.0.2.${i % 20}` } }));
    const byClient = new Map<number, Set<string>>();
    shots.forEach((s, i) => { const set = byClient.get(i % 20) ?? new Set(); set.add(s.body); byClient.set(i % 20, set); });
    for (const set of byClient.values()) expect(set.size).to.equal(1);
    expect(new Set(shots.map((s) => s.body)).size).to.be.above(1);
    expect(shots.every((s) => cookieOf(s).length === 0)).to.equal(true);
  });
});
