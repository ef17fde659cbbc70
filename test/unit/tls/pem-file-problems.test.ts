import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../../src/config/load.js';
import { runtimeProblems } from '../../../src/checks/runtime-checks.js';
import { readPemFile, type TlsProblem } from '../../../src/tls/cert-files.js';

describe('PEM files named in the config (client_ca, directory_ca, pool tls files)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-pem-files-'));
    await writeFile(join(dir, 'junk.pem'), 'hello');
    await writeFile(join(dir, 'cert-only.pem'), '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('readPemFile returns the text, or records why not under the key', () => {
    const problems: TlsProblem[] = [];
    expect(readPemFile('cert-only.pem', 'k.ca', problems, { baseDir: dir })).to.include('BEGIN CERTIFICATE');
    expect(readPemFile('junk.pem', 'k.ca', problems, { baseDir: dir })).to.equal(undefined);
    expect(readPemFile('cert-only.pem', 'k.key', problems, { baseDir: dir, kind: 'key' })).to.equal(undefined);
    expect(readPemFile('missing.pem', 'k.ca', problems, { baseDir: dir })).to.equal(undefined);
    expect(problems.map((p) => `${p.key}: ${p.message}`)).to.deep.equal([
      'k.ca: junk.pem holds no PEM certificate',
      'k.key: cert-only.pem holds no PEM key',
      'k.ca: cannot read missing.pem: ENOENT',
    ]);
  });

  it('gatehouse check reports each bad file by its key', async () => {
    const junk = join(dir, 'junk.pem');
    const missing = join(dir, 'missing.pem');
    const config = buildConfig({
      reverse: [{
        listen: '127.0.0.1:0', routes: [{ match: {}, pool: 'app' }],
        tls: { client_ca: missing, acme: { directory: 'https://127.0.0.1:9/dir', email: '', domains: ['pem.test'], dir: join(dir, 'acme'), directory_ca: junk } },
      }],
      pools: { app: { upstreams: [{ url: 'https://127.0.0.1:9' }], tls: { ca: missing, cert: junk, key: join(dir, 'cert-only.pem') } } },
    }, { env: {} });
    expect(await runtimeProblems(config, { plugins: false })).to.deep.equal([
      `reverse[0].tls.client_ca: cannot read ${missing}: ENOENT`,
      `reverse[0].tls.acme.directory_ca: ${junk} holds no PEM certificate`,
      `pools.app.tls.ca: cannot read ${missing}: ENOENT`,
      `pools.app.tls.cert: ${junk} holds no PEM certificate`,
      `pools.app.tls.key: ${join(dir, 'cert-only.pem')} holds no PEM key`,
    ]);
  });
});
