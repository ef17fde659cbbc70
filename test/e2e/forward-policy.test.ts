/**
 * Forward proxy policy through the proxy: ACL by src, user, group, domain, port, method and time;
 * proxy authentication (407, then success); domain block lists and URL patterns with the block page.
 * Destination names resolve through a stub resolver to a loopback origin exempted by allow_destinations.
 */
import { expect } from 'chai';
import { createRequire } from 'node:module';
import bcrypt from 'bcryptjs';
import { basic, curl, hasCurl, scratch, stubLookup, viaProxy } from '../helpers/forward.js';
import { forwardPortOf, startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { buildConfig } from '../../src/config/load.js';

const aprMd5 = createRequire(import.meta.url)('apache-md5') as (password: string) => string;
const lookup = stubLookup({ 'ok.test': '127.0.0.1', 'a.blocked.test': '127.0.0.1', 'blocked.test': '127.0.0.1', 'ads.example': '127.0.0.1', 'x.ads.example': '127.0.0.1' });
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

describe('forward proxy: access control and authentication', () => {
  let origin: Origin;
  const files = scratch();
  const users = files.write('users', `alice:${aprMd5('wonder')}\nbob:${bcrypt.hashSync('builder', 5)}\n`);
  const groups = files.write('groups', 'staff: bob\n');
  before(async () => { origin = await startOrigin('origin says hi'); });
  after(() => origin.close());

  /** A forward listener with `extra` config, the origin exempted from the SSRF guard. */
  const withAcl = (extra: Record<string, unknown>) => startProxy({ forward: [{ allow_destinations: ['127.0.0.1'], cache: false, ...extra }] }, { forwardLookup: lookup });
  const get = (p: TestProxy, host = 'ok.test', opts: Parameters<typeof viaProxy>[2] = {}) => viaProxy(forwardPortOf(p), `http://${host}:${origin.port}/`, opts);

  it('allows or denies by client address (src), with the rule in the log and the block page', async () => {
    const office = await withAcl({ acl: [{ name: 'office-only', allow: { src: ['10.0.0.0/8'] } }] });
    const local = await withAcl({ acl: [{ name: 'loopback', allow: { src: ['127.0.0.0/8', '::1/128'] } }] });
    try {
      const denied = await get(office);
      expect(denied.status).to.equal(403);
      expect(denied.headers['proxy-status']).to.match(/error=http_request_denied/);
      expect(denied.body).to.include('default').and.include(String(denied.headers['x-request-id']));
      expect(office.logs.find((l) => l.msg === 'access')).to.include({ status: 403, rule: 'default', denied_by: 'acl' });
      const allowed = await get(local);
      expect(allowed.status).to.equal(200);
      expect(local.logs.find((l) => l.msg === 'access')).to.include({ rule: 'loopback' });
    } finally { await office.close(); await local.close(); }
  });

  it('asks for credentials (407), then allows the right user and group', async () => {
    const p = await withAcl({
      auth: { realm: 'Corp Proxy', users_file: users, groups_file: groups },
      acl: [{ name: 'alice', allow: { user: ['alice'] } }, { name: 'staff', allow: { group: ['staff'], method: ['GET'] } }],
    });
    try {
      const none = await get(p);
      expect(none.status).to.equal(407);
      expect(none.headers['proxy-authenticate']).to.equal('Basic realm="Corp Proxy", charset="UTF-8"');
      const wrong = await get(p, 'ok.test', { headers: { 'proxy-authorization': basic('alice', 'nope') } });
      expect(wrong.status).to.equal(407);
      const alice = await get(p, 'ok.test', { headers: { 'proxy-authorization': basic('alice', 'wonder') } });
      expect(alice.status).to.equal(200);
      expect(alice.body).to.equal('origin says hi');
      const bob = await get(p, 'ok.test', { headers: { 'proxy-authorization': basic('bob', 'builder') } });
      expect(bob.status).to.equal(200);
      const bobPost = await get(p, 'ok.test', { method: 'POST', headers: { 'proxy-authorization': basic('bob', 'builder') } });
      expect(bobPost.status).to.equal(403);
      // failures are logged with user and client, never the password, and counted
      const failure = p.logs.find((l) => l.msg === 'proxy authentication failed');
      expect(failure).to.include({ user: 'alice', client: '127.0.0.1', reason: 'bad_password' });
      expect(JSON.stringify(p.logs)).to.not.include('nope');
      const metrics = await p.gateway.metrics.registry.getSingleMetricAsString('gatehouse_auth_failures_total');
      expect(metrics).to.include('gatehouse_auth_failures_total{listener="forward[0]"} 1');
      expect(p.logs.find((l) => l.msg === 'access' && l.status === 200)).to.include({ user: 'alice' });
      if (hasCurl) {
        const c407 = await curl(['-x', p.forwardUrl(), `http://ok.test:${origin.port}/`]);
        expect(c407.status).to.equal(407);
        const c200 = await curl(['-x', p.forwardUrl(), '--proxy-user', 'alice:wonder', `http://ok.test:${origin.port}/`]);
        expect(c200.status).to.equal(200);
      }
    } finally { await p.close(); }
  });

  it('authenticates CONNECT too', async () => {
    const p = await withAcl({ auth: { users_file: users }, acl: [{ allow: { user: ['alice'] } }], connect_ports: [origin.port] });
    try {
      expect((await viaProxy(forwardPortOf(p), `ok.test:${origin.port}`, { method: 'CONNECT' })).status).to.equal(407);
      const ok = await viaProxy(forwardPortOf(p), `ok.test:${origin.port}`, { method: 'CONNECT', headers: { 'proxy-authorization': basic('alice', 'wonder') } });
      expect(ok.status).to.equal(200);
    } finally { await p.close(); }
  });

  it('denies by destination domain (exact and wildcard, case and trailing dot ignored)', async () => {
    const p = await withAcl({ acl: [{ name: 'no-blocked', deny: { dst_domain: ['*.blocked.test', 'blocked.test'] } }, { allow: {} }] });
    try {
      expect((await get(p, 'a.blocked.test')).status).to.equal(403);
      expect((await get(p, 'A.Blocked.Test.')).status).to.equal(403);
      expect((await get(p, 'blocked.test')).status).to.equal(403);
      expect((await get(p, 'ok.test')).status).to.equal(200);
      expect((await viaProxy(forwardPortOf(p), 'a.blocked.test:443', { method: 'CONNECT' })).status).to.equal(403);
    } finally { await p.close(); }
  });

  it('allows or denies by destination port and method', async () => {
    const p = await withAcl({ acl: [{ deny: { method: ['DELETE'] } }, { allow: { dst_port: [origin.port] } }] });
    try {
      expect((await get(p)).status).to.equal(200);
      expect((await get(p, 'ok.test', { method: 'DELETE' })).status).to.equal(403);
      expect((await viaProxy(forwardPortOf(p), `http://ok.test:${origin.port + 1}/`)).status).to.equal(403);
    } finally { await p.close(); }
  });

  it('applies time rules (days and hours in a zone)', async () => {
    const today = DAYS[new Date().getUTCDay()]!;
    const p = await withAcl({ acl: [
      { name: 'not-today', deny: { time: { days: DAYS.filter((d) => d !== today), zone: 'UTC' } } },
      { name: 'all-day', allow: { time: { days: [today], hours: '00:00-24:00', zone: 'UTC' } } },
    ] });
    const closed = await withAcl({ acl: [{ name: 'closed-today', deny: { time: { days: [today], zone: 'UTC' } } }, { allow: {} }] });
    try {
      expect((await get(p)).status).to.equal(200);
      expect(p.logs.find((l) => l.msg === 'access')).to.include({ rule: 'all-day' });
      expect((await get(closed)).status).to.equal(403);
    } finally { await p.close(); await closed.close(); }
  });
});

describe('forward proxy: block lists and URL patterns', () => {
  let origin: Origin;
  before(async () => { origin = await startOrigin('allowed content'); });
  after(() => origin.close());

  it('blocks exact and wildcard domains with a block page naming the rule and request id', async () => {
    const p = await startProxy({ forward: [{ allow_destinations: ['127.0.0.1'], block_domains: ['ads.example', '*.blocked.test'], connect_ports: [443, origin.port] }] }, { forwardLookup: lookup });
    try {
      const exact = await viaProxy(forwardPortOf(p), `http://ads.example:${origin.port}/`, { headers: { accept: 'text/html,*/*;q=0.8' } });
      expect(exact.status).to.equal(403);
      expect(exact.headers['content-type']).to.equal('text/html; charset=utf-8');
      expect(exact.headers['proxy-status']).to.match(/^gatehouse; error=http_request_denied; details="block_list: /);
      expect(exact.body).to.include('block_domains[0] (ads.example)').and.include(String(exact.headers['x-request-id']));
      const wild = await viaProxy(forwardPortOf(p), `http://a.blocked.test:${origin.port}/`);
      expect(wild.status).to.equal(403);
      expect(wild.body).to.include('*.blocked.test');
      // `*.x` is subdomains only; the apex and other names pass
      expect((await viaProxy(forwardPortOf(p), `http://ok.test:${origin.port}/`)).status).to.equal(200);
      expect((await viaProxy(forwardPortOf(p), `a.blocked.test:${origin.port}`, { method: 'CONNECT' })).status).to.equal(403);
      expect(p.logs.find((l) => l.msg === 'access' && l.status === 403)).to.include({ denied_by: 'block_list' });
    } finally { await p.close(); }
  });

  it('blocks URL patterns (HTTP)', async () => {
    const p = await startProxy({ forward: [{ allow_destinations: ['127.0.0.1'], block_urls: ['/ads/*', { name: 'trackers', url_regex: 'track=1' }] }] }, { forwardLookup: lookup });
    try {
      expect((await viaProxy(forwardPortOf(p), `http://ok.test:${origin.port}/ads/banner.png`)).status).to.equal(403);
      expect((await viaProxy(forwardPortOf(p), `http://ok.test:${origin.port}/%61ds/x`)).status).to.equal(403);
      const tracked = await viaProxy(forwardPortOf(p), `http://ok.test:${origin.port}/p?track=1`);
      expect(tracked.body).to.include('trackers');
      expect((await viaProxy(forwardPortOf(p), `http://ok.test:${origin.port}/content`)).status).to.equal(200);
    } finally { await p.close(); }
  });

  it('loads a 200 000-entry block list file and matches it', async () => {
    const lines = ['# generated'];
    for (let i = 0; i < 200_000; i++) lines.push(i % 2 ? `host${i}.bad.example` : `*.zone${i}.bad.example`);
    lines.push('x.ads.example');
    const file = scratch().write('blocklist.txt', `${lines.join('\n')}\n`);
    const p = await startProxy({ forward: [{ allow_destinations: ['127.0.0.1'], block_lists: [file] }] }, { forwardLookup: lookup });
    try {
      expect(p.gateway.forwardListeners[0]!.policy!.blocks.size).to.equal(200_001);
      const hit = await viaProxy(forwardPortOf(p), `http://x.ads.example:${origin.port}/`);
      expect(hit.status).to.equal(403);
      expect(hit.body).to.include(`${file}:200002`);
      expect((await viaProxy(forwardPortOf(p), `http://ok.test:${origin.port}/`)).status).to.equal(200);
    } finally { await p.close(); }
  });
});

describe('forward proxy: reload', () => {
  it('applies a new block list to a running listener without dropping its address', async () => {
    const origin = await startOrigin('still here');
    const lookup = stubLookup({ 'news.test': '127.0.0.1' });
    const base = { forward: [{ allow_destinations: ['127.0.0.1'], cache: false }] };
    const p = await startProxy(base, { forwardLookup: lookup });
    try {
      const port = Number(new URL(p.forwardUrl()).port);
      const url = `http://news.test:${origin.port}/`;
      expect((await viaProxy(port, url)).status).to.equal(200);
      await p.gateway.reload(buildConfig({ ...base, forward: [{ ...base.forward[0], listen: "127.0.0.1:0", block_domains: ['news.test'] }], admin: { listen: '' } }, { env: {} }));
      const blocked = await viaProxy(port, url);
      expect(blocked.status).to.equal(403);
      expect(blocked.body).to.include('news.test');
    } finally {
      await p.close();
      await origin.close();
    }
  });
});
