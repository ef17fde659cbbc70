/**
 * Runs Let's Encrypt's Pebble test CA (Debian package `pebble`) on loopback for ACME tests: its own HTTPS
 * certificate comes from the development CA, its ports are chosen free before it starts (on this test
 * process's own loopback address, but for the HTTP-01 port, which Pebble reaches at localhost), and it is
 * stopped by PID. Pebble's root (the one that signs issued certificates) comes from its management endpoint.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueLeaf } from '../../src/tls/dev-certs.js';
import { freePort, freePortBelowEphemeral, OWN_HOST } from './addresses.js';
import { waitFor } from './load.js';

export interface Pebble {
  /** ACME directory URL. */
  readonly directory: string;
  /** PEM of the development CA that signed Pebble's own HTTPS certificate (trust it for `directory`). */
  readonly httpsCaPem: string;
  /** File holding `httpsCaPem`. */
  readonly httpsCaFile: string;
  /** Port Pebble sends HTTP-01 validation requests to. */
  readonly httpPort: number;
  /** Pebble's current root certificate, from the management endpoint. */
  root(): Promise<string>;
  stop(): Promise<void>;
}

/** Whether the `pebble` binary is installed. CI installs it (.ci/run); a missing one fails the tests. */
export function pebbleInstalled(): boolean {
  return spawnSync('pebble', ['-h'], { stdio: 'ignore' }).error === undefined;
}

/** `eab`: require external account binding with these key ids and base64url MAC keys. */
export async function startPebble(opts: { validitySeconds?: number; eab?: Record<string, string> } = {}): Promise<Pebble> {
  if (!pebbleInstalled()) throw new Error('pebble is not installed: apt-get install -y pebble (see .ci/run)');
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pebble-'));
  const ca = createCa({ commonName: 'Gatehouse test CA for Pebble', days: 2 });
  const leaf = issueLeaf(['localhost', OWN_HOST], ca, { days: 2 });
  const httpsCaFile = join(dir, 'https-ca.pem');
  await writeFile(httpsCaFile, ca.certPem);
  await writeFile(join(dir, 'cert.pem'), leaf.certPem);
  await writeFile(join(dir, 'key.pem'), leaf.keyPem);
  const [acmePort, mgmtPort, tlsPort] = await distinctFreePorts(3);
  const httpPort = await freePortBelowEphemeral(); // validation goes to localhost
  await writeFile(join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `${OWN_HOST}:${acmePort}`,
      managementListenAddress: `${OWN_HOST}:${mgmtPort}`,
      certificate: join(dir, 'cert.pem'),
      privateKey: join(dir, 'key.pem'),
      httpPort, tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: opts.eab !== undefined,
      ...(opts.eab ? { externalAccountMACKeys: opts.eab } : {}),
      ...(opts.validitySeconds ? { certificateValidityPeriod: opts.validitySeconds } : {}),
    },
  }));
  let output = '';
  const child: ChildProcess = spawn('pebble', ['-config', join(dir, 'pebble.json')], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
    // no artificial validation delays; never reject a good nonce (acme-client retries, but it slows tests);
    // always ask for a fresh authorization so every order really validates
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
  });
  child.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const directory = `https://${OWN_HOST}:${acmePort}/dir`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGTERM'); await exited; }
    await rm(dir, { recursive: true, force: true });
  };
  const up = await waitFor(async () => (await get(directory, ca.certPem).then((r) => r.status === 200, () => false)), 15_000, 100);
  if (!up) { await stop(); throw new Error(`pebble did not start:\n${output}`); }
  return {
    directory, httpsCaPem: ca.certPem, httpsCaFile, httpPort,
    root: async () => (await get(`https://${OWN_HOST}:${mgmtPort}/roots/0`, ca.certPem)).body,
    stop,
  };
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
