import { expect } from 'chai';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { makeCertDir } from '../unit/tls/fixtures.js';
import { scratch } from '../helpers/forward.js';
import { PluginDir } from '../unit/plugins/plugin-fixtures.js';
import { createCa, issueLeaf, type PemPair } from '../../src/tls/dev-certs.js';

// a plugin that passes what it learns about the client certificate on to the upstream
const SHOW_CERT = `
export function onRequest(req) {
  const c = req.tls && req.tls.client_cert;
  return { set_headers: { 'x-client-subject': c ? c.subject : 'none', 'x-client-verified': c ? String(c.verified) : 'none' } };
}`;

type Result = { status: number; headers: IncomingHttpHeaders } | { error: string };

function get(port: number, ca: string, client?: PemPair): Promise<Result> {
  return new Promise((resolve) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path: '/', servername: 'a.test', headers: { host: 'a.test' }, ca, agent: false,
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

describe('mTLS: client certificates on TLS listeners', function () {
  this.timeout(30_000);
  let certs: Awaited<ReturnType<typeof makeCertDir>>;
  let origin: Origin;
  let proxy: TestProxy;
  const plugins = new PluginDir();
  const files = scratch();
  const clientCa = createCa({ commonName: 'Clients CA' });
  const good = issueLeaf(['alice.clients.test'], clientCa, { clientAuth: true });
  const stranger = issueLeaf(['mallory.test'], createCa({ commonName: 'Unknown CA' }), { clientAuth: true });
  const port = (i: number) => proxy.gateway.reverseListeners[i]!.listener.address.port;

  before(async () => {
    certs = await makeCertDir();
    origin = await startOrigin('site');
    plugins.write('show-cert.js', SHOW_CERT);
    const tls = (mode: string) => ({
      certs: [{ cert: join(certs.dir, 'a.pem'), key: join(certs.dir, 'a.key') }],
      client_ca: files.write('clients-ca.pem', clientCa.certPem), client_cert: mode,
    });
    proxy = await startProxy({
      plugins: { dir: plugins.dir, watch: false },
      reverse: [
        { tls: tls('require'), routes: [{ match: {}, pool: 'app', plugins: ['show-cert.js'] }] },
        { tls: tls('optional'), routes: [{ match: {}, pool: 'app', plugins: ['show-cert.js'] }] },
      ],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
  });
  after(async () => { await proxy?.close(); await origin?.close(); await certs?.cleanup(); });

  it('require: a certificate from client_ca gets through; its subject reaches plugins and the access log', async () => {
    const r = await get(port(0), certs.caPem, good);
    expect(r).to.include({ status: 200 });
    const seen = origin.seen.at(-1)!.headers;
    expect(seen['x-client-subject']).to.equal('CN=alice.clients.test, O=Gatehouse development');
    expect(seen['x-client-verified']).to.equal('true');
    const line = proxy.logs.filter((l) => l.msg === 'access').at(-1) as { tls: { client: { subject: string; fingerprint256: string; verified: boolean } } };
    expect(line.tls.client.subject).to.equal('CN=alice.clients.test, O=Gatehouse development');
    expect(line.tls.client.fingerprint256).to.match(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(line.tls.client.verified).to.equal(true);
  });

  it('require: no certificate, or one from another CA, fails the handshake', async () => {
    const none = await get(port(0), certs.caPem);
    const bad = await get(port(0), certs.caPem, stranger);
    expect(none).to.have.property('error');
    expect(bad).to.have.property('error');
    expect(origin.seen.filter((s) => s.headers['x-client-subject'] === 'CN=mallory.test, O=Gatehouse development')).to.have.length(0);
  });

  it('optional: no certificate is fine, a good one is shown, a bad one gets 403', async () => {
    expect(await get(port(1), certs.caPem)).to.include({ status: 200 });
    expect(origin.seen.at(-1)!.headers['x-client-subject']).to.equal('none');
    expect(await get(port(1), certs.caPem, good)).to.include({ status: 200 });
    expect(origin.seen.at(-1)!.headers['x-client-verified']).to.equal('true');
    const before = origin.seen.length;
    const bad = await get(port(1), certs.caPem, stranger) as { status: number; headers: IncomingHttpHeaders };
    expect(bad.status).to.equal(403);
    expect(String(bad.headers['proxy-status'])).to.contain('http_request_denied');
    expect(origin.seen.length).to.equal(before);
    const line = proxy.logs.filter((l) => l.msg === 'access').at(-1)!;
    expect(String(line.client_cert_error)).to.match(/UNABLE_TO_VERIFY|unable to/i);
  });
});
