import { once } from 'node:events';
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { expect } from 'chai';
import { createCa, issueLeaf } from '../../../src/tls/dev-certs.js';
import { X509Certificate as X509 } from 'node:crypto';
import { SniContexts, validateReverseTls, type ReverseTlsConfig } from '../../../src/tls/sni-contexts.js';
import { TlsConfigError } from '../../../src/tls/cert-files.js';
import { handshake, makeCertDir } from './fixtures.js';

describe('sni-contexts', () => {
  let dir: string;
  let caPem: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, caPem, cleanup } = await makeCertDir()));
  after(() => cleanup());

  const cfgFor = (min_version = 'TLSv1.2'): ReverseTlsConfig => ({
    certs: [{ cert: 'a.pem', key: 'a.key' }, { cert: 'b.pem', key: 'b.key' }],
    min_version,
    hsts: 'max-age=31536000',
  });

  async function serve(sni: SniContexts): Promise<{ port: number; close: () => void }> {
    const server: Server = createServer(sni.serverOptions(), (_req, res) => res.end('ok'));
    sni.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { port: (server.address() as AddressInfo).port, close: () => { server.closeAllConnections(); server.close(); } };
  }

  const cn = (s: TLSSocket) => s.getPeerCertificate().subject.CN;

  describe('a real https server with a.test and *.b.test', () => {
    let sni: SniContexts;
    let srv: { port: number; close: () => void };
    before(async () => {
      sni = new SniContexts(cfgFor(), { baseDir: dir, keyPrefix: 'reverse[0].tls' });
      srv = await serve(sni);
    });
    after(() => srv.close());

    it('gives each name its certificate, verified against the CA', async () => {
      for (const [servername, want] of [['a.test', 'a.test'], ['A.TEST', 'a.test'], ['x.b.test', '*.b.test'], ['deep.x.b.test', 'a.test'], ['other.test', 'a.test']] as const) {
        const s = await handshake({ host: '127.0.0.1', port: srv.port, servername, ca: caPem, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
        expect(cn(s), servername).to.equal(want);
        expect(s.alpnProtocol).to.equal('http/1.1');
      }
      const ok = await handshake({ host: '127.0.0.1', port: srv.port, servername: 'x.b.test', ca: caPem });
      expect(ok.authorized).to.equal(true);
      // deep.x.b.test falls back to a.test's certificate, which must not verify for it
      const err = await handshake({ host: '127.0.0.1', port: srv.port, servername: 'deep.x.b.test', ca: caPem }).catch((e: Error & { code?: string }) => e);
      expect((err as { code?: string }).code).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
    });

    it('serves the first certificate to clients without SNI', async () => {
      const s = await handshake({ host: '127.0.0.1', port: srv.port, ca: caPem, checkServerIdentity: () => undefined });
      expect(cn(s)).to.equal('a.test');
      expect(s.authorized).to.equal(true);
    });

    it('refuses TLS 1.1 when min_version is TLSv1.2', async () => {
      const err = await handshake({
        host: '127.0.0.1', port: srv.port, servername: 'a.test', ca: caPem,
        minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0', // let the client offer 1.1 at all
      }).catch((e: Error & { code?: string }) => e);
      expect((err as { code?: string }).code).to.equal('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
      const s = await handshake({ host: '127.0.0.1', port: srv.port, servername: 'a.test', ca: caPem, maxVersion: 'TLSv1.2' });
      expect(s.getProtocol()).to.equal('TLSv1.2');
    });

    it('exposes hsts and a description', () => {
      expect(sni.hsts).to.equal('max-age=31536000');
      expect(sni.describe().map((d) => d.names)).to.deep.equal([['a.test'], ['*.b.test']]);
    });
  });

  it('refuses TLS 1.2 when min_version is TLSv1.3', async () => {
    const srv = await serve(new SniContexts(cfgFor('TLSv1.3'), { baseDir: dir }));
    try {
      const err = await handshake({ host: '127.0.0.1', port: srv.port, servername: 'a.test', ca: caPem, maxVersion: 'TLSv1.2' }).catch((e: Error & { code?: string }) => e);
      expect((err as { code?: string }).code).to.equal('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
      expect((await handshake({ host: '127.0.0.1', port: srv.port, servername: 'a.test', ca: caPem })).getProtocol()).to.equal('TLSv1.3');
    } finally { srv.close(); }
  });

  it('validation reports a mismatched key, a missing file, bad PEM, an expired cert and bad settings', async () => {
    const ca = { certPem: caPem, keyPem: await readFile(join(dir, 'ca.key'), 'utf8') };
    const old = issueLeaf(['old.test'], ca, { now: new Date(Date.now() - 10 * 24 * 3600 * 1000), days: 2 });
    await writeFile(join(dir, 'old.pem'), old.certPem);
    await writeFile(join(dir, 'old.key'), old.keyPem);
    await writeFile(join(dir, 'junk.pem'), 'hello');
    const problems = validateReverseTls({
      certs: [
        { cert: 'a.pem', key: 'b.key' },
        { cert: 'missing.pem', key: 'a.key' },
        { cert: 'junk.pem', key: 'a.key' },
        { cert: 'old.pem', key: 'old.key' },
      ],
      min_version: 'TLSv1.1',
      hsts: 'yes',
    }, { baseDir: dir, keyPrefix: 'reverse[0].tls' });
    expect(problems.map((p) => `${p.key}: ${p.message}`)).to.deep.equal([
      'reverse[0].tls.min_version: must be TLSv1.2 or TLSv1.3, got "TLSv1.1"',
      'reverse[0].tls.hsts: must contain max-age=SECONDS, got "yes"',
      'reverse[0].tls.certs[0].key: b.key does not match the certificate in a.pem',
      'reverse[0].tls.certs[1].cert: cannot read missing.pem: no such file',
      'reverse[0].tls.certs[2].cert: junk.pem is not a PEM certificate',
      `reverse[0].tls.certs[3].cert: old.pem expired on ${new Date(new X509(old.certPem).validTo).toISOString()}`,
    ]);
    expect(validateReverseTls(cfgFor(), { baseDir: dir })).to.deep.equal([]);
    expect(() => new SniContexts({ certs: [{ cert: 'a.pem', key: 'b.key' }] }, { baseDir: dir })).to.throw(TlsConfigError, /does not match/);
  });

  describe('an ACME listener', () => {
    const acmeCfg: ReverseTlsConfig = { acme: { domains: ['acme.test'] } };
    const fingerprint = async (port: number) => (await handshake({ host: '127.0.0.1', port, servername: 'acme.test', rejectUnauthorized: false })).getPeerCertificate().fingerprint256;

    it('validation builds no placeholder certificate', () => {
      // the placeholder signer refuses this name, so validating without throwing shows none was minted
      expect(validateReverseTls({ acme: { domains: ['not a host'] } })).to.deep.equal([]);
      expect(() => new SniContexts({ acme: { domains: ['not a host'] } })).to.throw(/not a host name/);
    });

    it('serves one placeholder from construction through reloads, hidden from describe()', async () => {
      const sni = new SniContexts(acmeCfg);
      const srv = await serve(sni);
      try {
        const first = await fingerprint(srv.port);
        expect(sni.reload()).to.deep.equal([]);
        expect(await fingerprint(srv.port)).to.equal(first);
        expect(sni.describe()).to.deep.equal([]);
      } finally { srv.close(); }
    });

    it('lists an obtained certificate as acme whatever its issuer is called', async () => {
      // an issuer name is not proof of a placeholder: the source is what build() is told
      const pair = issueLeaf(['acme.test'], createCa({ commonName: 'Gatehouse placeholder lookalike', days: 2 }), { days: 2 });
      const sni = new SniContexts(acmeCfg);
      expect(sni.setAcmeCertificate({ ...pair, x509: new X509(pair.certPem) })).to.deep.equal([]);
      expect(sni.describe().map((d) => [d.names, d.source])).to.deep.equal([[['acme.test'], 'acme']]);
    });
  });

  it('reload keeps the old certificates when the new files are bad, and swaps when good', async () => {
    await copyFile(join(dir, 'a.pem'), join(dir, 'r.pem'));
    await copyFile(join(dir, 'a.key'), join(dir, 'r.key'));
    const sni = new SniContexts({ certs: [{ cert: 'r.pem', key: 'r.key' }] }, { baseDir: dir });
    const srv = await serve(sni);
    try {
      const who = async () => cn(await handshake({ host: '127.0.0.1', port: srv.port, ca: caPem, checkServerIdentity: () => undefined }));
      await rename(join(dir, 'r.key'), join(dir, 'r.key.gone'));
      expect(sni.reload()).to.have.length(1);
      expect(await who()).to.equal('a.test');
      // new files: b's pair under the same names; the default (no-SNI) cert follows
      await copyFile(join(dir, 'b.pem'), join(dir, 'r.pem'));
      await copyFile(join(dir, 'b.key'), join(dir, 'r.key'));
      expect(sni.reload()).to.deep.equal([]);
      expect(await who()).to.equal('*.b.test');
      expect(cn(await handshake({ host: '127.0.0.1', port: srv.port, servername: 'q.b.test', ca: caPem }))).to.equal('*.b.test');
    } finally { srv.close(); }
  });
});
