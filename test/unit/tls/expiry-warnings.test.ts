import { expect } from 'chai';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../../src/config/load.js';
import { certificateWarnings } from '../../../src/tls/expiry-warnings.js';
import { createCa, issueLeaf } from '../../../src/tls/dev-certs.js';

describe('gatehouse check: certificate expiry warnings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-expiry-'));
  const ca = createCa();
  const write = (name: string, days: number) => {
    const leaf = issueLeaf([`${name}.test`], ca, { days });
    writeFileSync(join(dir, `${name}.pem`), leaf.certPem);
    writeFileSync(join(dir, `${name}.key`), leaf.keyPem);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  };

  it('warns about certificates (files and ACME ones on disk) expiring within 14 days, not later ones', () => {
    const soon = write('soon', 5);
    const later = write('later', 60);
    const acmeLeaf = issueLeaf(['shop.test'], ca, { days: 10 });
    const acmeDir = join(dir, 'acme');
    // the ACME store's layout: DIR/<first domain>/cert.pem
    mkdirSync(join(acmeDir, 'shop.test'), { recursive: true });
    writeFileSync(join(acmeDir, 'shop.test', 'cert.pem'), acmeLeaf.certPem);
    const config = buildConfig({
      admin: { listen: '' },
      reverse: [
        { listen: '127.0.0.1:0', tls: { certs: [later, soon] }, routes: [{ match: {}, respond: { status: 200 } }] },
        { listen: '127.0.0.1:1', tls: { acme: { directory: 'https://acme.test/dir', domains: ['shop.test'], dir: acmeDir } }, routes: [{ match: {}, respond: { status: 200 } }] },
        { listen: '127.0.0.1:2', redirect_https: true, routes: [{ match: {}, respond: { status: 200 } }] },
      ],
    }, { env: {} });
    const warnings = certificateWarnings(config);
    expect(warnings).to.have.length(2);
    expect(warnings[0]).to.match(/^reverse\[0\]\.tls\.certs\[1\]\.cert: .*soon\.pem expires in 4 days \(\d{4}-/);
    expect(warnings[1]).to.match(/^reverse\[1\]\.tls\.acme: .*shop\.test\/cert\.pem expires in 9 days/);
  });

  it('warns when ACME has no plain listener to answer HTTP-01', () => {
    const config = buildConfig({
      admin: { listen: '' },
      reverse: [{ listen: '127.0.0.1:0', tls: { acme: { directory: 'https://acme.test/dir', domains: ['shop.test'], dir: join(dir, 'none') } }, routes: [{ match: {}, respond: { status: 200 } }] }],
    }, { env: {} });
    expect(certificateWarnings(config)).to.deep.equal(['reverse[0].tls.acme: no plain reverse listener answers HTTP-01 challenges; add one on port 80']);
  });
});
