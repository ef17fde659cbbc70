import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { startOrigin, type Origin } from '../helpers/loopback.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { freePort, OWN_HOST, ownAddress } from '../helpers/addresses.js';
import { startPebble, type Pebble } from '../helpers/pebble.js';
import { waitFor } from '../helpers/load.js';

/** The serial of the certificate served on a new connection, verified against `ca`; undefined when none verifies. */
function servedSerial(port: number, ca: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host: OWN_HOST, port, servername: 'localhost', ca }, () => {
      resolve(s.getPeerX509Certificate()?.serialNumber);
      s.end();
    });
    s.once('error', () => resolve(undefined));
  });
}

/** A handshake resuming `session` when given; whether it resumed, and a ticket for the next one. */
function resume(port: number, ca: string, session?: Buffer): Promise<{ resumed: boolean; ticket?: Buffer }> {
  return new Promise((resolve) => {
    let ticket: Buffer | undefined;
    const s = connect({ host: OWN_HOST, port, servername: 'localhost', ca, session }, () => {
      s.write('GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n');
      s.resume();
      s.once('end', () => resolve({ resumed: s.isSessionReused(), ticket }));
    });
    s.on('session', (t: Buffer) => { ticket ??= t; });
    s.once('error', () => resolve({ resumed: false }));
  });
}

describe('ACME with workers: 2', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'gh-acme-cluster-'));
  let pebble: Pebble;
  let origin: Origin;
  let proxy: CliRun | undefined;
  let stdout = '';
  let tlsPort = 0;

  before(async () => {
    pebble = await startPebble();
    origin = await startOrigin('site');
  });
  after(async () => {
    if (proxy && proxy.child.exitCode === null) { proxy.child.kill('SIGTERM'); await proxy.output; }
    await origin?.close();
    await pebble?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('one worker orders, and whichever worker a client reaches serves the new certificate', async () => {
    tlsPort = await freePort();
    writeFileSync(join(dir, 'acme.yaml'), [
      'node_id: gh-acme', 'workers: 2', 'shutdown_timeout: 2s', 'admin: { listen: "" }',
      'reverse:',
      `  - { listen: "127.0.0.1:${pebble.httpPort}", routes: [{ match: {}, pool: app }] }`,
      `  - listen: "${ownAddress(tlsPort)}"`,
      '    routes: [{ match: {}, pool: app }]',
      `    tls: { acme: { directory: "${pebble.directory}", domains: [localhost], dir: "${join(dir, 'acme')}", directory_ca: "${pebble.httpsCaFile}" } }`,
      `pools: { app: { upstreams: [{ url: "${origin.url}" }] } }`, '',
    ].join('\n'));
    proxy = runCli(['--config', join(dir, 'acme.yaml')]);
    proxy.child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    const root = await pebble.root();
    expect(await waitFor(async () => (await servedSerial(tlsPort, root)) !== undefined, 30_000, 200), 'a Pebble certificate within 30 s').to.equal(true);
    // every connection, whichever worker takes it, gets the same certificate
    const serials = new Set<string | undefined>();
    const ok = await waitFor(async () => {
      serials.clear();
      for (const s of await Promise.all(Array.from({ length: 12 }, () => servedSerial(tlsPort, root)))) serials.add(s);
      return serials.size === 1 && !serials.has(undefined);
    }, 15_000, 200);
    expect(ok, `serials seen: ${[...serials].join(', ')}`).to.equal(true);
    const lines = () => stdout.split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as { msg: string });
    // the child's log lines are written on a timer and may reach its stdout after the certificate is served
    expect(await waitFor(() => lines().some((l) => l.msg === 'acme: certificate issued'), 15_000), 'the issue logged').to.equal(true);
    expect(lines().filter((l) => l.msg === 'acme: ordering a certificate')).to.have.length(1);
    expect(lines().filter((l) => l.msg === 'acme: certificate issued')).to.have.length(1);
  });

  it('resumes a TLS session on whichever worker a client reaches (shared ticket keys)', async () => {
    const root = await pebble.root();
    const { ticket } = await resume(tlsPort, root);
    expect(ticket).to.be.instanceOf(Buffer);
    // connections alternate between the workers (round-robin): twelve cover both
    const resumed = await Promise.all(Array.from({ length: 12 }, () => resume(tlsPort, root, ticket)));
    expect(resumed.map((r) => r.resumed)).to.deep.equal(Array(12).fill(true));
  });
});
