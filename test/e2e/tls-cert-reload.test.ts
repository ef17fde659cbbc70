import { expect } from 'chai';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { waitFor } from '../helpers/load.js';
import { handshake, makeCertDir } from '../unit/tls/fixtures.js';
import { issueLeaf } from '../../src/tls/dev-certs.js';

describe('TLS listener: certificate files reloaded when they change', function () {
  this.timeout(30_000);
  let certs: Awaited<ReturnType<typeof makeCertDir>>;
  let origin: Origin;
  let proxy: TestProxy;
  const serial = async () => {
    const s = await handshake({ host: '127.0.0.1', port: proxy.gateway.reverseListeners[0]!.listener.address.port, servername: 'a.test', ca: certs.caPem });
    return s.getPeerX509Certificate()!.serialNumber;
  };

  before(async () => {
    certs = await makeCertDir();
    origin = await startOrigin('site');
    proxy = await startProxy({
      reverse: [{ tls: { certs: [{ cert: join(certs.dir, 'a.pem'), key: join(certs.dir, 'a.key') }] }, routes: [{ match: {}, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
  });
  after(async () => { await proxy?.close(); await origin?.close(); await certs?.cleanup(); });

  it('exports seconds to expiry per certificate and shows names and expiry in /status', async () => {
    const text = await proxy.gateway.metrics.registry.metrics();
    const m = /gatehouse_tls_certificate_expiry_seconds\{listener="reverse\[0\]",names="a.test"\} (-?\d+)/.exec(text);
    expect(m, text.slice(0, 200)).to.not.equal(null);
    const expected = (Date.parse(new (await import('node:crypto')).X509Certificate(await readFile(join(certs.dir, 'a.pem'))).validTo) - Date.now()) / 1000;
    expect(Number(m![1])).to.be.closeTo(expected, 120);
    const status = proxy.gateway.status() as { listeners: { certificates: { names: string[]; validTo: string; source: string }[] }[] };
    expect(status.listeners[0]!.certificates.map((c) => [c.names, c.source])).to.deep.equal([[['a.test'], 'file']]);
  });

  it('serves a renewed certificate written in place (key, then certificate renamed in, as certbot does)', async () => {
    const old = await serial();
    const ca = { certPem: certs.caPem, keyPem: await readFile(join(certs.dir, 'ca.key'), 'utf8') };
    const renewed = issueLeaf(['a.test'], ca, { days: 30 });
    await writeFile(join(certs.dir, 'a.key'), renewed.keyPem);
    await writeFile(join(certs.dir, 'a.pem.new'), renewed.certPem);
    await rename(join(certs.dir, 'a.pem.new'), join(certs.dir, 'a.pem'));
    expect(await waitFor(async () => (await serial()) !== old, 20_000, 50), 'new certificate within 20 s').to.equal(true);
    expect(proxy.logs.some((l) => l.msg === 'certificates reloaded')).to.equal(true);
  });

  it('a config reload (SIGHUP, POST /reload) switches to other files, and refuses broken ones', async () => {
    const ca = { certPem: certs.caPem, keyPem: await readFile(join(certs.dir, 'ca.key'), 'utf8') };
    const other = issueLeaf(['a.test'], ca, { days: 20 });
    await writeFile(join(certs.dir, 'other.pem'), other.certPem);
    await writeFile(join(certs.dir, 'other.key'), other.keyPem);
    const config = structuredClone(proxy.gateway.config);
    config.reverse[0]!.tls!.certs = [{ cert: join(certs.dir, 'other.pem'), key: join(certs.dir, 'other.key') }];
    await proxy.gateway.reload(config);
    const expected = new (await import('node:crypto')).X509Certificate(other.certPem).serialNumber;
    expect(await serial()).to.equal(expected);
    const broken = structuredClone(config);
    broken.reverse[0]!.tls!.certs = [{ cert: join(certs.dir, 'other.pem'), key: join(certs.dir, 'a.key') }];
    await proxy.gateway.reload(broken);
    expect(await serial()).to.equal(expected);
    expect(proxy.logs.some((l) => l.msg === 'certificates do not load; keeping the current ones' && String(l.problems).includes('does not match'))).to.equal(true);
    config.reverse[0]!.tls!.certs = [{ cert: join(certs.dir, 'a.pem'), key: join(certs.dir, 'a.key') }];
    await proxy.gateway.reload(config);
  });

  it('keeps the current certificate when the new file is broken, and says why', async () => {
    const current = await serial();
    await writeFile(join(certs.dir, 'a.pem'), '-----BEGIN CERTIFICATE-----\nbroken\n');
    const logged = () => proxy.logs.find((l) => l.msg === 'certificate files changed but do not load; keeping the current certificates');
    expect(await waitFor(() => logged() !== undefined, 20_000, 50), 'an error within 20 s').to.equal(true);
    expect(String((logged()!.problems as string[])[0])).to.contain('is not a PEM certificate');
    expect(await serial()).to.equal(current);
  });
});
