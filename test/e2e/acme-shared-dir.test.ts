import { expect } from 'chai';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '../helpers/loopback.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { waitFor } from '../helpers/load.js';
import { AcmeManager } from '../../src/tls/acme/acme-manager.js';
import { Http01Responder } from '../../src/tls/acme/http01.js';
import { tryLock } from '../../src/tls/acme/order-lock.js';

describe('ACME: processes sharing one directory', function () {
  this.timeout(60_000);
  let pebble: Pebble;
  let dir: string;
  let plain: Server;

  before(async () => {
    pebble = await startPebble();
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-acme-shared-'));
  });
  after(async () => {
    await new Promise((r) => plain?.close(r));
    await pebble?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('orders once when two processes start together; the other serves the same certificate from disk', async () => {
    const acmeDir = join(dir, 'acme');
    // Two "processes": each its own responder and manager. Only the first one's responder is on the
    // port Pebble validates, so when the second orders, its tokens must be found through the directory.
    const responders = [new Http01Responder(), new Http01Responder()];
    responders[0]!.setDirectories([acmeDir]);
    plain = createServer((req, res) => { if (!responders[0]!.answer(req, res)) { res.statusCode = 404; res.end(); } });
    await new Promise<void>((r) => plain.listen(pebble.httpPort, '127.0.0.1', r));
    const { log, logs } = memoryLogger();
    const served: string[][] = [[], []];
    const managers = responders.map((http01, i) => new AcmeManager({
      config: { directory: pebble.directory, email: '', domains: ['localhost'], challenge: 'http-01', dir: acmeDir, directory_ca: pebble.httpsCaFile },
      listener: `p${i}`, log, http01, onCertificate: (c) => served[i]!.push(c.x509.fingerprint256), random: () => 0.5,
    }));
    try {
      managers.forEach((m) => m.start());
      const same = () => served[0]!.length > 0 && served[1]!.length > 0 && served[0]!.at(-1) === served[1]!.at(-1);
      expect(await waitFor(same, 30_000, 50), 'both serve one certificate within 30 s').to.equal(true);
      expect(managers[0]!.ordersIssued + managers[1]!.ordersIssued).to.equal(1);
      expect(logs.filter((l) => l.msg === 'acme: ordering a certificate')).to.have.length(1);
    } finally {
      managers.forEach((m) => m.stop());
    }
  });

  it('takes over a lock left by a process that died, but not a fresh one', async () => {
    const lockDir = join(dir, 'lock');
    await mkdir(lockDir);
    const release = tryLock(lockDir)!;
    expect(release).to.be.a('function');
    expect(tryLock(lockDir), 'held').to.equal(undefined);
    // ten minutes later the holder is taken for dead
    expect(tryLock(lockDir, 10 * 60_000, Date.now() + 11 * 60_000)).to.be.a('function');
    release();
  });
});
