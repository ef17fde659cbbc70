import { expect } from 'chai';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { rootCertificates, type TLSSocket } from 'node:tls';
import { startProxy, type TestProxy } from '../helpers/loopback.js';
import { send } from '../helpers/http-client.js';
import { scratch } from '../helpers/forward.js';
import { createCa, issueLeaf } from '../../src/tls/dev-certs.js';
import { upstreamTlsProblems } from '../../src/reverse/upstream-tls.js';
import { WebSocketServer, WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';

describe('https upstreams: verified by default', function () {
  this.timeout(20_000);
  const files = scratch();
  const ca = createCa({ commonName: 'Upstream CA' });
  const leaf = issueLeaf(['origin.test', '127.0.0.1'], ca);
  const clientCa = createCa({ commonName: 'Proxy client CA' });
  const client = issueLeaf(['gatehouse.test'], clientCa, { clientAuth: true });
  let origin: Server;
  let mtlsOrigin: Server;
  let proxy: TestProxy;
  const seenSni: string[] = [];
  const seenClient: string[] = [];

  before(async () => {
    origin = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
      seenSni.push(String((req.socket as TLSSocket & { servername?: string }).servername || ''));
      res.end('tls origin');
    });
    // asks for a client certificate and refuses connections without a good one
    mtlsOrigin = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem, ca: clientCa.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      seenClient.push((req.socket as TLSSocket).getPeerX509Certificate()?.subjectAltName ?? '');
      res.end('mtls origin');
    });
    origin.listen(0, '127.0.0.1');
    mtlsOrigin.listen(0, '127.0.0.1');
    await Promise.all([once(origin, 'listening'), once(mtlsOrigin, 'listening')]);
    const url = `https://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    const mtlsUrl = `https://127.0.0.1:${(mtlsOrigin.address() as AddressInfo).port}`;
    const caFile = files.write('upstream-ca.pem', ca.certPem);
    const wrongCa = files.write('other-ca.pem', createCa({ commonName: 'Someone else' }).certPem);
    const pool = (u: string, tls: Record<string, unknown> = {}) => ({ upstreams: [{ url: u }], retries: 0, tls });
    proxy = await startProxy({
      reverse: [{
        routes: [
          { match: { path_prefix: '/default' }, pool: 'default' },
          { match: { path_prefix: '/ca' }, pool: 'with_ca' },
          { match: { path_prefix: '/wrong-ca' }, pool: 'wrong_ca' },
          { match: { path_prefix: '/sni' }, pool: 'sni' },
          { match: { path_prefix: '/bad-sni' }, pool: 'bad_sni' },
          { match: { path_prefix: '/insecure' }, pool: 'insecure' },
          { match: { path_prefix: '/client-cert' }, pool: 'client_cert' },
          { match: { path_prefix: '/no-client-cert' }, pool: 'no_client_cert' },
        ],
      }],
      pools: {
        default: pool(url),
        with_ca: pool(url, { ca: caFile }),
        wrong_ca: pool(url, { ca: wrongCa }),
        sni: pool(url, { ca: caFile, servername: 'origin.test' }),
        bad_sni: pool(url, { ca: caFile, servername: 'elsewhere.test' }),
        insecure: pool(url, { insecure_skip_verify: true }),
        client_cert: pool(mtlsUrl, { ca: caFile, cert: files.write('client.pem', client.certPem), key: files.write('client.key', client.keyPem) }),
        no_client_cert: pool(mtlsUrl, { ca: caFile }),
      },
    });
  });
  after(async () => {
    await proxy?.close();
    origin?.closeAllConnections(); mtlsOrigin?.closeAllConnections();
    await Promise.all([new Promise((r) => origin?.close(r)), new Promise((r) => mtlsOrigin?.close(r))]);
  });

  it('refuses an upstream certificate no trusted CA signed: 502 with Proxy-Status tls_certificate_error', async () => {
    for (const path of ['/default', '/wrong-ca']) {
      const r = await send(`${proxy.url()}${path}`);
      expect(r.status, path).to.equal(502);
      expect(String(r.headers['proxy-status']), path).to.contain('error=tls_certificate_error');
      expect(r.headers['x-request-id'], path).to.be.a('string');
    }
  });

  it('accepts it with tls.ca, which is added to the system roots rather than replacing them', async () => {
    const r = await send(`${proxy.url()}/ca`);
    expect([r.status, r.body]).to.deep.equal([200, 'tls origin']);
    const { options } = upstreamTlsProblems({ ca: files.write('ca-again.pem', ca.certPem), servername: '', cert: '', key: '', insecure_skip_verify: false }, 'pools.x.tls');
    expect(options.ca).to.have.length(rootCertificates.length + 1);
    expect((options.ca as string[]).slice(0, rootCertificates.length)).to.deep.equal([...rootCertificates]);
  });

  it('sends tls.servername as SNI and checks the certificate against it', async () => {
    const ok = await send(`${proxy.url()}/sni`);
    expect(ok.status).to.equal(200);
    expect(seenSni.at(-1)).to.equal('origin.test');
    const bad = await send(`${proxy.url()}/bad-sni`);
    expect(bad.status).to.equal(502);
    expect(String(bad.headers['proxy-status'])).to.contain('error=tls_certificate_error');
  });

  it('insecure_skip_verify accepts any certificate and is logged as a warning at start', async () => {
    const r = await send(`${proxy.url()}/insecure`);
    expect(r.status).to.equal(200);
    const warning = proxy.logs.find((l) => l.level === 40 && String(l.msg).includes('insecure_skip_verify'));
    expect(warning).to.include({ pool: 'insecure' });
  });

  it('presents tls.cert to an upstream that asks for a client certificate', async () => {
    const r = await send(`${proxy.url()}/client-cert`);
    expect([r.status, r.body]).to.deep.equal([200, 'mtls origin']);
    expect(seenClient.at(-1)).to.equal('DNS:gatehouse.test');
    expect((await send(`${proxy.url()}/no-client-cert`)).status).to.equal(502);
  });

  it('tunnels a WebSocket to an https upstream with the pool\'s TLS settings (CA, SNI) and logs its bytes; an unverifiable certificate is 502', async () => {
    const wss = new WebSocketServer({ server: origin });
    wss.on('connection', (ws, req) => ws.on('message', (m) => ws.send(`tls echo:${m.toString()}:${(req.socket as TLSSocket & { servername?: string | false }).servername || ''}`)));
    try {
      for (const [path, sni] of [['/ca', ''], ['/sni', 'origin.test']] as const) {
        const ws = new WebSocket(`${proxy.url().replace('http', 'ws')}${path}`);
        await once(ws, 'open');
        ws.send('hi');
        const [msg] = await once(ws, 'message');
        expect(String(msg), path).to.equal(`tls echo:hi:${sni}`);
        ws.close();
        await once(ws, 'close');
      }
      let line: Record<string, unknown> | undefined;
      for (let i = 0; i < 250 && !line; i++, await new Promise((r) => setTimeout(r, 20))) {
        line = proxy.logs.find((l) => l.msg === 'access' && l.path === '/sni' && l.status === 101);
      }
      expect(line, 'access line of the tunnel').to.not.equal(undefined);
      expect(line!.bytes_up).to.be.a('number').above(0);
      expect(line!.bytes_down).to.be.a('number').above(0);
      const refused = new WebSocket(`${proxy.url().replace('http', 'ws')}/default`);
      const [req, res] = await once(refused, 'unexpected-response') as [{ destroy(): void }, IncomingMessage];
      expect(res.statusCode).to.equal(502);
      expect(String(res.headers['proxy-status'])).to.contain('error=tls_certificate_error');
      req.destroy();
    } finally { wss.close(); }
  });

  it('reports unreadable tls files by key', () => {
    const { problems } = upstreamTlsProblems({ ca: '/nonexistent/ca.pem', servername: '', cert: '', key: '', insecure_skip_verify: false }, 'pools.app.tls');
    expect(problems.map((p) => `${p.key}: ${p.message}`)).to.deep.equal(['pools.app.tls.ca: cannot read /nonexistent/ca.pem: ENOENT']);
  });
});
