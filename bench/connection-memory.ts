/**
 * `npm run bench:connection-memory`: what one client connection costs Gatehouse in memory. The proxy runs
 * as its own process (built, from dist/); this process is the client. Opens CONN_IDLE (default 10,000)
 * idle connections, then CONN_SLOW (default 1,000) slow readers (GET of a 100 MB body, never read), and
 * prints the proxy's RSS growth per connection for each. Per-IP caps are off for the measurement, and the
 * pool allows one upstream connection per slow reader.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { freePort } from './ports.js';
import { rssMb, startGatehouse, startOrigin, stopAll } from './proxy-process.js';

const IDLE = Number(process.env.CONN_IDLE ?? 10_000);
const SLOW = Number(process.env.CONN_SLOW ?? 1_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** RSS once it stops moving (two readings 1 s apart within 1 MB), at most 15 s. */
async function settledRss(pid: number): Promise<number> {
  let last = rssMb(pid);
  for (let i = 0; i < 15; i++) {
    await sleep(1000);
    const now = rssMb(pid);
    if (Math.abs(now - last) < 1) return now;
    last = now;
  }
  return last;
}

async function open(port: number, count: number, request?: string): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, count - i) }, async () => {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => s.destroy());
      await once(s, 'connect');
      if (request) { s.pause(); s.write(request); }
      sockets.push(s);
    }));
  }
  return sockets;
}

async function main(): Promise<void> {
  const [originPort, proxyPort] = [await freePort(), await freePort()];
  await startOrigin(originPort);
  const proxy = await startGatehouse(`
node_id: gh-connmem
admin: { listen: "" }
log: { level: warn }
limits: { max_connections: 19000, max_connections_per_ip: 0, idle_timeout: 10m, header_timeout: 10m, send_timeout: 10m }
reverse:
  - listen: 127.0.0.1:${proxyPort}
    routes: [{ match: {}, pool: app }]
pools:
  app: { upstreams: [{ url: "http://127.0.0.1:${originPort}" }], keepalive: ${SLOW + 10}, max_queue: ${SLOW} }
`, proxyPort);
  const pid = proxy.pid!;
  // one request first: JIT, pools and lazily loaded modules are not a connection's cost
  await fetch(`http://127.0.0.1:${proxyPort}/1k`).then((r) => r.arrayBuffer());
  const base = await settledRss(pid);

  const idle = await open(proxyPort, IDLE);
  const withIdle = await settledRss(pid);
  const alive = idle.filter((s) => !s.destroyed).length;
  console.log(`${alive} idle connections: RSS ${base.toFixed(0)} → ${withIdle.toFixed(0)} MB, ${((withIdle - base) * 1024 / alive).toFixed(1)} KB each`);
  for (const s of idle) s.destroy();
  const afterIdle = await settledRss(pid);

  const slow = await open(proxyPort, SLOW, 'GET /big HTTP/1.1\r\nHost: soak\r\n\r\n');
  const withSlow = await settledRss(pid);
  const stillOpen = slow.filter((s) => !s.destroyed).length;
  console.log(`${stillOpen} slow readers: RSS ${afterIdle.toFixed(0)} → ${withSlow.toFixed(0)} MB, ${((withSlow - afterIdle) * 1024 / stillOpen).toFixed(1)} KB each`);
  for (const s of slow) s.destroy();
  console.log(`after they left: RSS ${(await settledRss(pid)).toFixed(0)} MB`);
  stopAll();
}

main().catch((e: unknown) => { console.error(e); stopAll(); process.exit(1); });
