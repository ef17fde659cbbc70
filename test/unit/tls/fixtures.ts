import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { runCertsCommand } from '../../../src/tls/certs-command.js';

/** Runs `gatehouse certs …` in-process, capturing output. */
export async function certs(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCertsCommand(argv, (s) => { out += s; }, (s) => { err += s; });
  return { code, out, err };
}

/** A temp dir holding a CA, `a.pem`/`a.key` for a.test and `b.pem`/`b.key` for *.b.test. */
export async function makeCertDir(): Promise<{ dir: string; caPem: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-tls-'));
  for (const argv of [['ca', '--out', dir], ['issue', 'a.test', '--ca', dir, '--name', 'a'], ['issue', '*.b.test', '--ca', dir, '--name', 'b']]) {
    const r = await certs(...argv);
    if (r.code !== 0) throw new Error(`certs ${argv.join(' ')} failed: ${r.err}`);
  }
  return { dir, caPem: await readFile(join(dir, 'ca.pem'), 'utf8'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Completes a TLS handshake (or fails) and returns the socket, already ended. */
export function handshake(opts: ConnectionOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(opts, () => {
      socket.end();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
