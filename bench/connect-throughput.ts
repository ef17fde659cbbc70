/**
 * CONNECT tunnel throughput: 100 MB from a loopback TCP source to a client, directly and through a
 * Gatehouse forward listener (its own process, from dist/: run `npm run build` first).
 * Usage: npm run bench:connect   Env: CONNECT_MB (default 100), CONNECT_RUNS (default 3), GH_NODE_ARGS (extra node flags
 * for the proxy process, e.g. "--cpu-prof").
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { freePort, waitForPort } from './ports.js';
import { join } from 'node:path';

const MB = Number(process.env.CONNECT_MB ?? 100);
const RUNS = Number(process.env.CONNECT_RUNS ?? 3);
const TOTAL = MB * 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024, 'x');

/** Writes TOTAL bytes to every connection, with backpressure, then ends it. */
const source = createServer((s) => {
  let left = TOTAL;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void s.once('drain', pump);
    }
    s.end();
  };
  pump();
});
source.listen(0, '127.0.0.1');
await once(source, 'listening');
const sourcePort = (source.address() as AddressInfo).port;

/** Reads everything from `socket`; resolves with MB/s. */
async function drain(socket: Socket, started: number): Promise<number> {
  let got = 0;
  socket.on('data', (c: Buffer) => { got += c.length; });
  socket.resume();
  await once(socket, 'end');
  if (got < TOTAL) throw new Error(`short read: ${got} of ${TOTAL}`);
  return MB / ((performance.now() - started) / 1000);
}

async function direct(): Promise<number> {
  const t0 = performance.now();
  const s = connect(sourcePort, '127.0.0.1');
  return drain(s, t0);
}

async function tunnelled(proxyPort: number): Promise<number> {
  const t0 = performance.now();
  const s = connect(proxyPort, '127.0.0.1');
  await once(s, 'connect');
  s.write(`CONNECT 127.0.0.1:${sourcePort} HTTP/1.1\r\nHost: 127.0.0.1:${sourcePort}\r\n\r\n`);
  let head = Buffer.alloc(0);
  while (head.indexOf('\r\n\r\n') < 0) {
    const [c] = (await once(s, 'data')) as [Buffer];
    head = Buffer.concat([head, c]);
  }
  s.pause();
  const end = head.indexOf('\r\n\r\n');
  if (!head.subarray(0, 12).toString().includes(' 200')) throw new Error(`CONNECT refused: ${head.subarray(0, end)}`);
  const rest = head.subarray(end + 4);
  if (rest.length) s.unshift(rest);
  return drain(s, t0);
}

const dir = mkdtempSync(join(tmpdir(), 'gh-connect-'));
const proxyPort = await freePort();
const config = join(dir, 'gatehouse.yaml');
writeFileSync(config, `
node_id: bench
admin: { listen: "" }
log: { level: info, format: json, file: ${dir}/access.log }
forward:
  - listen: 127.0.0.1:${proxyPort}
    acl: [{ allow: { src: [127.0.0.0/8] } }]
    connect_ports: [${sourcePort}]
    allow_destinations: ["127.0.0.1:${sourcePort}"]
`);
const gh = spawn(process.execPath, [...(process.env.GH_NODE_ARGS?.split(' ').filter(Boolean) ?? []), '--no-node-snapshot', 'bin/gatehouse.js', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
try {
  await waitForPort(proxyPort);
  const best = async (f: () => Promise<number>) => { let b = 0; for (let i = 0; i < RUNS; i++) b = Math.max(b, await f()); return b; };
  const d = await best(direct);
  const t = await best(() => tunnelled(proxyPort));
  console.log(`\n${MB} MB, best of ${RUNS}, loopback`);
  console.log(`| path | MB/s |\n|---|---|\n| direct TCP | ${d.toFixed(0)} |\n| through gatehouse CONNECT | ${t.toFixed(0)} |`);
} finally {
  gh.kill('SIGTERM');
  source.close();
}
process.exit(0);
