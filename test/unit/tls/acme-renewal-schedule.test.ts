import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../../helpers/loopback.js';
import { AcmeManager } from '../../../src/tls/acme/acme-manager.js';
import { AcmeStore, certificateName } from '../../../src/tls/acme/acme-store.js';
import { Http01Responder } from '../../../src/tls/acme/http01.js';
import { createCa, issueLeaf } from '../../../src/tls/dev-certs.js';

const DAY = 86_400_000;

describe('ACME renewal schedule', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'gatehouse-acme-schedule-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  it('draws the renewal jitter once per certificate, so a check near the due time does not loop', async () => {
    // 100-day certificate, 66 days old: due at day 66.67 with no jitter, already due with full jitter
    const domains = ['renew.test'];
    const pair = issueLeaf(domains, createCa({ days: 200 }), { now: new Date(Date.now() - 66 * DAY), days: 100 });
    const store = new AcmeStore(dir);
    store.ensure();
    store.writeCertificate(certificateName(domains), pair.certPem, pair.keyPem);
    // jitter alternating between none and full: two draws for one certificate would disagree on whether it is due
    let draws = 0;
    const random = () => (draws++ % 2 === 0 ? 0 : 1);
    const { log } = memoryLogger();
    const m = new AcmeManager({
      config: { directory: 'https://127.0.0.1:9/directory', email: '', domains, challenge: 'http-01', dir, directory_ca: '' },
      listener: 'r', log, http01: new Http01Responder(), onCertificate: () => undefined, random,
    });
    try {
      m.start();
      for (let i = 0; i < 3; i++) await m.check();
      expect(draws, 'one draw, when the stored certificate was adopted').to.equal(1);
      expect(m.ordersIssued).to.equal(0);
      expect(m.lastError).to.equal(undefined);
    } finally {
      m.stop();
    }
  });
});
