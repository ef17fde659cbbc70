import { expect } from 'chai';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { waitFor } from '../helpers/load.js';

interface Answer { status: number; body: string; serial: string; validFrom: number; reused: boolean }

/** GET / over TLS as `localhost`, verifying the chain against `ca` (or not at all). */
function get(port: number, opts: { ca?: string; agent?: Agent }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path: '/', servername: 'localhost', headers: { host: 'localhost' },
      ca: opts.ca, rejectUnauthorized: opts.ca !== undefined, agent: opts.agent ?? false,
    }, (res) => {
      let body = '';
      // read now: a keep-alive socket goes back to the agent at the end
      const cert = (res.socket as TLSSocket).getPeerX509Certificate();
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        resolve({ status: res.statusCode!, body, serial: cert?.serialNumber ?? 'none', validFrom: cert ? Date.parse(cert.validFrom) : 0, reused: req.reusedSocket });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function plainGet(port: number, path: string, host: string): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

const LIFETIME_S = 8;

describe('ACME against Pebble: issuance, renewal, failure', function () {
  this.timeout(60_000);
  let pebble: Pebble;
  let origin: Origin;
  let proxy: TestProxy;
  let dir: string;
  const tlsPort = () => proxy.gateway.reverseListeners[1]!.listener.address.port;
  const acme = () => proxy.gateway.reverseListeners[1]!.acme!;

  before(async () => {
    pebble = await startPebble({ validitySeconds: LIFETIME_S });
    origin = await startOrigin('site');
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-acme-'));
    proxy = await startProxy({
      reverse: [
        // Pebble validates HTTP-01 on this port (its "port 80")
        { listen: `127.0.0.1:${pebble.httpPort}`, redirect_https: true, routes: [{ match: {}, pool: 'app' }] },
        {
          tls: { acme: { directory: pebble.directory, email: 'ops@example.com', domains: ['localhost'], dir: join(dir, 'acme'), directory_ca: pebble.httpsCaFile } },
          routes: [{ match: {}, pool: 'app' }],
        },
      ],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
  });
  after(async () => { await proxy?.close(); await origin?.close(); await pebble?.stop(); await rm(dir, { recursive: true, force: true }); });

  it('obtains a certificate whose chain verifies against Pebble\'s root, stores it 0600 and shows it in /status', async () => {
    expect(await waitFor(() => acme().current !== undefined, 20_000, 50), 'a certificate within 20 s').to.equal(true);
    const root = await pebble.root();
    const r = await get(tlsPort(), { ca: root });
    expect([r.status, r.body]).to.deep.equal([200, 'site']);
    for (const f of ['account.key', 'localhost/cert.pem', 'localhost/key.pem']) {
      expect((await stat(join(dir, 'acme', f))).mode & 0o777, f).to.equal(0o600);
    }
    const status = proxy.gateway.status() as { listeners: { certificates?: { names: string[]; source: string; expires_in_s: number }[] }[] };
    const certs = status.listeners[1]!.certificates!;
    expect(certs.map((c) => [c.names, c.source])).to.deep.equal([[['localhost'], 'acme']]);
    expect(certs[0]!.expires_in_s).to.be.within(-1, LIFETIME_S);
    const issued = proxy.logs.find((l) => l.msg === 'acme: certificate issued');
    expect(issued).to.include({ listener: 'reverse[1]' });
  });

  it('renews after two thirds of the lifetime and keeps open connections working', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = await get(tlsPort(), { agent });
      const orders = acme().ordersIssued;
      expect(await waitFor(() => acme().ordersIssued > orders, 20_000, 50), 'a renewal within 20 s').to.equal(true);
      const kept = await get(tlsPort(), { agent });
      // the same TLS connection, opened on the old certificate, still carries requests
      expect([kept.status, kept.reused]).to.deep.equal([200, true]);
      const fresh = await get(tlsPort(), { ca: await pebble.root() });
      expect(fresh.status).to.equal(200);
      expect(fresh.serial).to.not.equal(before.serial);
      // not before two thirds of the lifetime (less the 2% jitter; certificate times are whole seconds)
      expect(fresh.validFrom - before.validFrom).to.be.at.least(Math.floor(LIFETIME_S * (2 / 3 - 0.02)) * 1000 - 1000);
    } finally {
      agent.destroy();
    }
  });

  it('answers plain requests with 308 to https, except ACME challenges', async () => {
    const res = await plainGet(pebble.httpPort, '/a/b?c=1', 'localhost:8080');
    expect([res.status, res.location]).to.deep.equal([308, 'https://localhost/a/b?c=1']);
    expect(origin.seen.some((s) => s.url === '/a/b?c=1')).to.equal(false);
    // the renewals above went through this listener, so challenges got past the redirect
    expect(proxy.logs.some((l) => l.msg === 'access' && l.acme_challenge === true)).to.equal(true);
  });

  it('keeps the current certificate when an order fails, and logs why', async () => {
    const serving = (await get(tlsPort(), {})).serial;
    // Pebble can no longer reach the HTTP-01 answers
    await proxy.gateway.reverseListeners[0]!.stop(0);
    const failed = () => proxy.logs.find((l) => l.msg === 'acme order failed; keeping the current certificate');
    expect(await waitFor(() => failed() !== undefined, 20_000, 50), 'a failed order within 20 s').to.equal(true);
    expect(String(failed()!.reason)).to.match(/connect|refused|invalid/i);
    expect(failed()!.retry_in_s).to.be.a('number');
    expect((await get(tlsPort(), {})).serial).to.equal(serving);
    expect(acme().lastError).to.be.a('string');
  });
});
