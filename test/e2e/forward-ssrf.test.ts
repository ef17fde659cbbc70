/**
 * The SSRF guard through the proxy: every odd spelling of a loopback, private or link-local
 * address is refused (403 destination_ip_prohibited) by default, an explicit exemption passes,
 * and a DNS answer that changes between requests (rebinding) cannot reach a refused address.
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { LookupAll } from '../../src/forward/ssrf-guard.js';
import { stubLookup, viaProxy } from '../helpers/forward.js';
import { forwardPortOf, startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';

describe('forward proxy: SSRF guard', () => {
  let origin: Origin;
  before(async () => { origin = await startOrigin('internal secret'); });
  after(() => origin.close());

  it('refuses every spelling of loopback, private, link-local and metadata addresses by default', async () => {
    const p = await startProxy({ forward: [{ connect_ports: [443, origin.port] }] }, { forwardLookup: stubLookup({ 'localhost.evil.test': '127.0.0.1', 'mixed.test': ['93.184.216.34', '10.0.0.1'] }) });
    const port = origin.port;
    const targets = [
      `http://127.0.0.1:${port}/`, `http://2130706433:${port}/`, `http://0x7f.1:${port}/`, `http://0x7f000001:${port}/`,
      `http://0177.0.0.1:${port}/`, `http://127.1:${port}/`, `http://[::1]:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`,
      'http://[::ffff:a9fe:a9fe]/latest/meta-data/', 'http://169.254.169.254/latest/meta-data/', 'http://0xa9fea9fe/',
      'http://10.0.0.1/', 'http://172.16.0.1/', 'http://192.168.1.1/', 'http://100.64.0.1/', 'http://0.0.0.0/',
      'http://[fd00::1]/', 'http://[fe80::1]/', `http://localhost.evil.test:${port}/`, 'http://mixed.test/',
    ];
    try {
      for (const target of targets) {
        const r = await viaProxy(forwardPortOf(p), target);
        expect(r.status, target).to.equal(403);
        expect(r.headers['proxy-status'], target).to.match(/error=destination_ip_prohibited/);
      }
      for (const authority of [`2130706433:${port}`, `[::ffff:7f00:1]:${port}`, '169.254.169.254:443']) {
        expect((await viaProxy(forwardPortOf(p), authority, { method: 'CONNECT' })).status, authority).to.equal(403);
      }
      expect(origin.seen).to.have.length(0);
    } finally { await p.close(); }
  });

  it('lets an allow_destinations exception through, in any spelling, and nothing else', async () => {
    const p = await startProxy({ forward: [{ allow_destinations: [`127.0.0.1:${origin.port}`] }] });
    try {
      for (const host of ['127.0.0.1', '2130706433', '0x7f.1', '127.1', '[::ffff:127.0.0.1]']) {
        const r = await viaProxy(forwardPortOf(p), `http://${host}:${origin.port}/ok`);
        expect(r.status, host).to.equal(200);
        expect(r.body).to.equal('internal secret');
      }
      expect((await viaProxy(forwardPortOf(p), `http://127.0.0.1:${origin.port + 1}/`)).status).to.equal(403);
    } finally { await p.close(); }
  });

  it('allow_private_destinations turns the guard off', async () => {
    const p = await startProxy({ forward: [{ allow_private_destinations: true }] });
    try {
      expect((await viaProxy(forwardPortOf(p), `http://127.1:${origin.port}/`)).status).to.equal(200);
    } finally { await p.close(); }
  });

  it('refuses DNS rebinding: each request resolves once and dials exactly the checked address', async function () {
    // "public" site: 127.0.0.1:PORT (exempt); the rebinding target: [::1] on the same port (refused)
    const secret: Server = createServer((_q, s) => s.end('leaked'));
    try {
      secret.listen(origin.port, '::1');
      await once(secret, 'listening');
    } catch {
      return this.skip(); // no IPv6 loopback here
    }
    const answers = ['127.0.0.1', '::1'];
    let calls = 0;
    const rebinding: LookupAll = async () => { const a = answers[Math.min(calls++, 1)]!; return [{ address: a, family: a.includes(':') ? 6 : 4 }]; };
    const p = await startProxy({ forward: [{ allow_destinations: [`127.0.0.1:${origin.port}`] }] }, { forwardLookup: rebinding });
    let secretHits = 0;
    secret.on('request', () => secretHits++);
    try {
      const first = await viaProxy(forwardPortOf(p), `http://rebind.test:${origin.port}/`);
      expect(first.status).to.equal(200);
      expect(first.body).to.equal('internal secret');
      const second = await viaProxy(forwardPortOf(p), `http://rebind.test:${origin.port}/`);
      expect(second.status).to.equal(403);
      expect(second.headers['proxy-status']).to.match(/error=destination_ip_prohibited/);
      expect(second.body).to.include('rebind.test resolves to it');
      expect(calls).to.equal(2);
      expect(secretHits).to.equal(0);
    } finally {
      await p.close();
      secret.closeAllConnections();
      secret.close();
    }
  });
});
