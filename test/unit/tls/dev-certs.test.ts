import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { createCa, generateLeafKey, issueLeaf } from '../../../src/tls/dev-certs.js';

const DAY = 24 * 60 * 60 * 1000;

describe('dev-certs', () => {
  const ca = createCa({ commonName: 'Test CA', days: 30 });
  const caX509 = new X509Certificate(ca.certPem);

  it('createCa makes a self-signed CA certificate', () => {
    expect(caX509.ca).to.equal(true);
    expect(caX509.subject).to.include('CN=Test CA');
    expect(caX509.verify(caX509.publicKey)).to.equal(true);
    expect(caX509.toLegacyObject().ext_key_usage).to.equal(undefined);
  });

  it('issueLeaf puts DNS and IP names in the SAN and chains to the CA', () => {
    const leaf = new X509Certificate(issueLeaf(['A.test', '*.b.test', '127.0.0.1', '[::1]'], ca).certPem);
    expect(leaf.subjectAltName).to.equal('DNS:a.test, DNS:*.b.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(leaf.ca).to.equal(false);
    expect(leaf.checkIssued(caX509)).to.equal(true);
    expect(leaf.verify(caX509.publicKey)).to.equal(true);
    expect(leaf.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1']); // serverAuth
    expect(leaf.serialNumber).to.match(/^[0-7][0-9A-F]{31}$/);
  });

  it('backdates validity and keeps the span within 397 days', () => {
    const now = new Date();
    const leaf = new X509Certificate(issueLeaf(['a.test'], ca, { days: 5000, now }).certPem);
    const from = new Date(leaf.validFrom).getTime();
    const to = new Date(leaf.validTo).getTime();
    expect(from).to.be.lessThan(now.getTime() - 30 * 60 * 1000);
    expect(to - from).to.be.at.most(397 * DAY);
  });

  it('reuses a given key', () => {
    const key = generateLeafKey();
    const a = issueLeaf(['a.test'], ca, { key });
    const b = issueLeaf(['b.test'], ca, { key });
    expect(a.keyPem).to.equal(b.keyPem);
    expect(new X509Certificate(a.certPem).checkPrivateKey(key.privateKey)).to.equal(true);
  });

  it('rejects bad hosts', () => {
    expect(() => issueLeaf(['bad host'], ca)).to.throw(/not a host name/);
    expect(() => issueLeaf([], ca)).to.throw(/at least one host/);
  });
});
