import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { certs } from './fixtures.js';

describe('gatehouse certs', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'gatehouse-certs-')); });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('ca writes ca.pem and a 0600 ca.key, and refuses to overwrite without --force', async () => {
    const r = await certs('ca', '--out', dir);
    expect(r.code, r.err).to.equal(0);
    const ca = new X509Certificate(await readFile(join(dir, 'ca.pem')));
    expect(ca.ca).to.equal(true);
    expect((await stat(join(dir, 'ca.key'))).mode & 0o777).to.equal(0o600);

    const again = await certs('ca', '--out', dir);
    expect(again.code).to.equal(1);
    expect(again.err.trim().split('\n')).to.have.length(1);
    expect(again.err).to.match(/already exists.*--force/);
    expect((await certs('ca', '--out', dir, '--force')).code).to.equal(0);
  });

  it('issue names files after the first host, or --name, and signs them with the CA', async () => {
    await certs('ca', '--out', dir);
    const ca = new X509Certificate(await readFile(join(dir, 'ca.pem')));
    expect((await certs('issue', '*.example.test', 'example.test', '127.0.0.1', '--ca', dir)).code).to.equal(0);
    const wild = new X509Certificate(await readFile(join(dir, '_wildcard.example.test.pem')));
    expect(wild.subjectAltName).to.equal('DNS:*.example.test, DNS:example.test, IP Address:127.0.0.1');
    expect(wild.verify(ca.publicKey)).to.equal(true);
    expect((await stat(join(dir, '_wildcard.example.test.key'))).mode & 0o777).to.equal(0o600);

    const out = join(dir, 'site');
    expect((await certs('issue', 'localhost', '--ca', dir, '--out', out, '--name', 'site')).code).to.equal(0);
    expect(new X509Certificate(await readFile(join(out, 'site.pem'))).checkHost('localhost')).to.equal('localhost');
  });

  it('issue --client adds the client-authentication usage (mTLS); without it, server only', async () => {
    await certs('ca', '--out', dir, '--force');
    expect((await certs('issue', 'alice.test', '--ca', dir, '--client')).code).to.equal(0);
    expect((await certs('issue', 'server.test', '--ca', dir)).code).to.equal(0);
    const usage = async (name: string) => new X509Certificate(await readFile(join(dir, `${name}.pem`))).keyUsage;
    expect(await usage('alice.test')).to.have.members(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(await usage('server.test')).to.deep.equal(['1.3.6.1.5.5.7.3.1']);
  });

  it('issue without a CA fails with exit 1 and one line', async () => {
    const r = await certs('issue', 'a.test', '--ca', join(dir, 'nope'));
    expect(r.code).to.equal(1);
    expect(r.err.trim().split('\n')).to.have.length(1);
    expect(r.err).to.include('ca.pem').and.include('certs ca');
  });

  it('bad usage exits 2; --help exits 0 with usage on stdout', async () => {
    expect((await certs()).code).to.equal(2);
    expect((await certs('frobnicate')).code).to.equal(2);
    expect((await certs('issue')).code).to.equal(2);
    expect((await certs('issue', 'bad host!', '--ca', dir)).code).to.equal(2);
    expect((await certs('ca', '--bogus')).code).to.equal(2);
    expect((await certs('issue', 'a.test', '--days', '400')).code).to.equal(2);
    const help = await certs('--help');
    expect(help.code).to.equal(0);
    expect(help.out).to.include('certs issue HOST...');
    expect((await certs('issue', '--help')).code).to.equal(0);
  });
});
