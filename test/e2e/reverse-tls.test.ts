import { expect } from 'chai';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { handshake, makeCertDir } from '../unit/tls/fixtures.js';

/** GET over TLS with a given SNI name, verifying the chain against the test CA. */
function get(url: string, servername: string, ca: string): Promise<{ status: number; body: string; headers: Record<string, unknown>; subject: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { servername, ca, headers: { host: servername }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => {
        const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        resolve({ status: res.statusCode!, body, headers: res.headers, subject: String(cert.subjectaltname) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('reverse proxy: TLS termination', () => {
  let certs: Awaited<ReturnType<typeof makeCertDir>>;
  let a: Origin;
  let b: Origin;
  let proxy: TestProxy;

  before(async () => {
    certs = await makeCertDir();
    [a, b] = await Promise.all([startOrigin('site-a'), startOrigin('site-b')]);
    proxy = await startProxy({
      reverse: [{
        tls: {
          certs: [{ cert: join(certs.dir, 'a.pem'), key: join(certs.dir, 'a.key') }, { cert: join(certs.dir, 'b.pem'), key: join(certs.dir, 'b.key') }],
          hsts: 'max-age=600',
        },
        routes: [
          { match: { host: 'a.test' }, pool: 'a' },
          { match: { host: '*.b.test' }, pool: 'b' },
        ],
      }],
      pools: { a: { upstreams: [{ url: a.url }] }, b: { upstreams: [{ url: b.url }] } },
    });
  });
  after(async () => { await proxy.close(); await a.close(); await b.close(); await certs.cleanup(); });

  it('picks the certificate by SNI and routes by host, with HSTS and X-Forwarded-Proto https', async () => {
    const ra = await get(proxy.url(), 'a.test', certs.caPem);
    const rb = await get(proxy.url(), 'www.b.test', certs.caPem);
    expect([ra.status, ra.body, ra.subject]).to.deep.equal([200, 'site-a', 'DNS:a.test']);
    expect([rb.status, rb.body, rb.subject]).to.deep.equal([200, 'site-b', 'DNS:*.b.test']);
    expect(ra.headers['strict-transport-security']).to.equal('max-age=600');
    expect(a.seen[0]!.headers['x-forwarded-proto']).to.equal('https');
  });

  it('logs the TLS version, cipher and SNI of each request', async () => {
    await get(proxy.url(), 'a.test', certs.caPem);
    const line = proxy.logs.filter((l) => l.msg === 'access').at(-1) as { tls?: { version: string; cipher: string; sni: string } };
    expect(line.tls?.version).to.match(/^TLSv1\.[23]$/);
    expect(line.tls?.cipher).to.be.a('string').and.not.equal('');
    expect(line.tls?.sni).to.equal('a.test');
  });

  it('refuses TLS 1.1 by default (min_version TLSv1.2)', async () => {
    const port = Number(new URL(proxy.url()).port);
    let error: NodeJS.ErrnoException | undefined;
    try {
      await handshake({ host: '127.0.0.1', port, servername: 'a.test', ca: certs.caPem, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    } catch (e) { error = e as NodeJS.ErrnoException; }
    // The server's protocol_version alert, not a client-side refusal.
    expect(error?.code).to.equal('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });
});
