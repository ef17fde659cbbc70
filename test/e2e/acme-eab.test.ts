import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../helpers/loopback.js';
import { waitFor } from '../helpers/load.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { AcmeManager } from '../../src/tls/acme/acme-manager.js';
import { Http01Responder } from '../../src/tls/acme/http01.js';
import type { AcmeConfig } from '../../src/config/types.js';

const KID = 'kid-1';
const HMAC = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';

describe('ACME: external account binding (a CA that requires it)', function () {
  this.timeout(60_000);
  let pebble: Pebble;
  let dir: string;
  let plain: Server;
  const http01 = new Http01Responder();

  before(async () => {
    pebble = await startPebble({ eab: { [KID]: HMAC } });
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-acme-eab-'));
    plain = createServer((req, res) => { if (!http01.answer(req, res)) { res.statusCode = 404; res.end(); } });
    await new Promise<void>((r) => plain.listen(pebble.httpPort, '127.0.0.1', r));
  });
  after(async () => {
    await new Promise((r) => plain?.close(r));
    await pebble?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const manager = (name: string, eab?: AcmeConfig['eab']) => {
    const { log, logs } = memoryLogger();
    const config: AcmeConfig = { directory: pebble.directory, email: '', domains: ['localhost'], challenge: 'http-01', dir: join(dir, name), directory_ca: pebble.httpsCaFile, eab };
    return { m: new AcmeManager({ config, listener: name, log, http01, onCertificate: () => undefined, random: () => 0.5 }), logs };
  };

  it('without eab the order fails and the log gives the CA\'s reason', async () => {
    const { m, logs } = manager('without');
    const failed = () => logs.find((l) => l.msg === 'acme order failed; keeping the current certificate');
    m.start();
    try {
      expect(await waitFor(() => failed() !== undefined, 20_000, 50), 'a failure within 20 s').to.equal(true);
    } finally {
      m.stop();
    }
    expect(m.current).to.equal(undefined);
    expect(String(failed()!.reason)).to.match(/externalAccountBinding/);
    expect(failed()!.serving).to.equal('none');
  });

  it('with eab { kid, hmac_key } the account binds and a certificate is issued', async () => {
    const { m } = manager('with', { kid: KID, hmac_key: HMAC });
    m.start();
    try {
      expect(await waitFor(() => m.current !== undefined, 20_000, 50), 'a certificate within 20 s').to.equal(true);
    } finally {
      m.stop();
    }
    expect(m.current!.x509.subjectAltName).to.equal('DNS:localhost');
  });
});
