import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { InterceptCa, validateInterceptCa } from '../../../src/tls/intercept-ca.js';
import { handshake, makeCertDir } from './fixtures.js';

describe('intercept-ca', () => {
  let dir: string;
  let caPem: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, caPem, cleanup } = await makeCertDir()));
  after(() => cleanup());

  const load = (maxHosts?: number) => new InterceptCa({ ca: 'ca.pem', ca_key: 'ca.key' }, { baseDir: dir, ...(maxHosts ? { maxHosts } : {}) });

  // A TCP server standing in for the forward proxy: after CONNECT it wraps the client socket.
  async function serve(ica: InterceptCa, connectHost: string): Promise<{ port: number; close: () => void }> {
    const server = createServer(async (sock) => {
      const tlsSock = new TLSSocket(sock, { isServer: true, ...(await ica.serverOptionsFor(connectHost)) });
      tlsSock.on('secure', () => tlsSock.end()).on('error', () => sock.destroy());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { port: (server.address() as AddressInfo).port, close: () => server.close() };
  }

  it('mints a certificate for the requested host that verifies against the CA', async () => {
    const ica = load();
    const srv = await serve(ica, '127.0.0.1');
    try {
      const s = await handshake({ host: '127.0.0.1', port: srv.port, servername: 'shop.example', ca: caPem, ALPNProtocols: ['h2', 'http/1.1'] });
      expect(s.authorized).to.equal(true);
      expect(s.alpnProtocol).to.equal('http/1.1');
      const peer = s.getPeerX509Certificate()!;
      expect(peer.subjectAltName).to.equal('DNS:shop.example');
      expect(peer.verify(new X509Certificate(caPem).publicKey)).to.equal(true);
      // no SNI (client dialled an IP): the CONNECT target names the certificate
      const byIp = await handshake({ host: '127.0.0.1', port: srv.port, ca: caPem });
      expect(byIp.authorized).to.equal(true);
      expect(byIp.getPeerX509Certificate()!.subjectAltName).to.equal('IP Address:127.0.0.1');
    } finally { srv.close(); }
  });

  it('concurrent requests for one host mint one certificate', async () => {
    const ica = load();
    const ctxs = await Promise.all(Array.from({ length: 20 }, (_, i) => ica.contextFor(i % 2 ? 'same.example' : 'SAME.example.')));
    expect(new Set(ctxs).size).to.equal(1);
    expect(ica.stats).to.deep.equal({ minted: 1, hits: 19, cached: 1 });
    expect(await ica.contextFor('same.example')).to.equal(ctxs[0]);
  });

  it('evicts least recently used hosts beyond maxHosts', async () => {
    const ica = load(2);
    const first = await ica.contextFor('one.example');
    await ica.contextFor('two.example');
    await ica.contextFor('three.example');
    expect(ica.stats.cached).to.equal(2);
    expect(await ica.contextFor('one.example')).to.not.equal(first);
    expect(ica.stats.minted).to.equal(4);
  });

  it('mints one certificate per new host once the shared key exists', async () => {
    const ica = load();
    await ica.contextFor('warm.example');
    const n = 50;
    for (let i = 0; i < n; i++) await ica.contextFor(`h${i}.example`);
    expect(ica.stats.minted).to.equal(n + 1);
  });

  it('rejects malformed hosts and reports bad CA files', async () => {
    const ica = load();
    let err: unknown;
    await ica.contextFor('not a host').catch((e: unknown) => { err = e; });
    expect(String(err)).to.match(/not a host name/);
    expect(validateInterceptCa({ ca: 'a.pem', ca_key: 'a.key' }, { baseDir: dir, keyPrefix: 'forward[0].intercept_tls' }))
      .to.deep.equal([{ key: 'forward[0].intercept_tls.ca', message: 'a.pem is not a CA certificate (basicConstraints CA:true missing)' }]);
    expect(validateInterceptCa({ ca: 'ca.pem', ca_key: 'nope.key' }, { baseDir: dir })[0]).to.deep.equal({ key: 'intercept_tls.ca_key', message: 'cannot read nope.key: no such file' });
    expect(validateInterceptCa({ ca: join(dir, 'ca.pem'), ca_key: join(dir, 'ca.key') })).to.deep.equal([]);
  });
});
