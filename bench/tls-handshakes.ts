/**
 * TLS handshakes per second on a Gatehouse TLS listener: full handshakes (no session to resume) and
 * resumed ones (TLS 1.3 session tickets), each from a fixed number of concurrent clients that connect,
 * finish the handshake and close. Also the proxy's CPU µs per handshake. One process, loopback.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type TLSSocket } from 'node:tls';
import { benchCert, reverseConfig } from './scenarios.js';
import { freePort, waitForPort } from './ports.js';
import { cpuSecondsBetween, readCpu } from './process-cpu.js';

export interface HandshakeFigures { kind: 'full' | 'resumed'; perSecond: number; cpuUs: number; resumedShare: number; errors: number }

const CLIENTS = 16;

function handshake(port: number, session: Buffer | undefined): Promise<{ resumed: boolean; session?: Buffer }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, session });
    socket.once('session', (s: Buffer) => { ticket = s; });
    socket.once('secureConnect', () => {
      const resumed = socket.isSessionReused();
      // TLS 1.3 tickets arrive just after the handshake: wait for one when we need it
      if (session || ticket) { socket.destroy(); resolve({ resumed, session: ticket }); return; }
      socket.once('session', (s: Buffer) => { socket.destroy(); resolve({ resumed, session: s }); });
      setTimeout(() => { socket.destroy(); resolve({ resumed }); }, 1000).unref();
    });
    socket.once('error', reject);
  });
}

async function run(port: number, pid: number, seconds: number, resume: boolean): Promise<HandshakeFigures> {
  let session: Buffer | undefined;
  if (resume) session = (await handshake(port, undefined)).session;
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  let resumed = 0;
  let errors = 0;
  const before = readCpu(pid);
  const start = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (Date.now() < deadline) {
      try {
        const r = await handshake(port, resume ? session : undefined);
        done++;
        if (r.resumed) resumed++;
      } catch { errors++; }
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  const cpu = cpuSecondsBetween(before, readCpu(pid));
  return { kind: resume ? 'resumed' : 'full', perSecond: Math.round(done / elapsed), cpuUs: Math.round((cpu * 1e6) / Math.max(1, done)), resumedShare: done ? resumed / done : 0, errors };
}

export async function measureHandshakes(opts: { origin: string; dir: string; start: (config: string) => ChildProcess; seconds: number }): Promise<HandshakeFigures[]> {
  const port = await freePort();
  const config = reverseConfig(port, opts.origin, opts.dir).replace(`  - listen: 127.0.0.1:${port}\n`, `  - listen: 127.0.0.1:${port}\n${benchCert(opts.dir)}`);
  const child = opts.start(config);
  try {
    await waitForPort(port);
    await run(port, child.pid!, 1, false); // warm-up
    return [await run(port, child.pid!, opts.seconds, false), await run(port, child.pid!, opts.seconds, true)];
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit').catch(() => undefined);
  }
}

export function printHandshakes(figures: HandshakeFigures[]): void {
  console.log(`\nTLS handshakes per second on one Gatehouse TLS listener (tls-handshakes.ts): ${CLIENTS} concurrent clients connecting and closing, ECDHE + RSA-2048 certificate, loopback.\n`);
  console.log('| handshake | per second | proxy CPU µs/handshake | resumed | errors |');
  console.log('|---|---|---|---|---|');
  for (const f of figures) console.log(`| ${f.kind} | ${f.perSecond} | ${f.cpuUs} | ${Math.round(f.resumedShare * 100)}% | ${f.errors} |`);
}
