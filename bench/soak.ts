/**
 * `npm run soak`: Gatehouse (built, its own process) in front of the benchmark origin on loopback.
 * Measures capacity with a short saturating run, then offers SOAK_LOAD (default 0.8) of it for SOAK_SECONDS
 * (default 60) over a mix of routes (uncached 1 KB and 100 KB, cached 1 KB under many keys), sampling the
 * proxy's RSS every 250 ms. Prints RSS before, peak and after (after SOAK_SETTLE seconds idle, default 10),
 * and every error. Stops by itself. SOAK_CACHED_KEYS (default 20,000): distinct keys on the cached route. SOAK_HEAP_DIR=dir: the proxy writes a heap snapshot there before and
 * after the soak (node --heapsnapshot-signal), for finding what holds memory. SOAK_NODE_FLAGS: extra node
 * flags for the proxy (e.g. --max-semi-space-size=4).
 */
import autocannon from 'autocannon';
import { readdirSync } from 'node:fs';
import { freePort } from './ports.js';
import { rssMb, startGatehouse, startOrigin, stopAll } from './proxy-process.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const LOAD = Number(process.env.SOAK_LOAD ?? 0.8);
const SETTLE = Number(process.env.SOAK_SETTLE ?? 10);
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 50);
const HEAP_DIR = process.env.SOAK_HEAP_DIR;
/** Distinct keys requested on the cached route (0: no cached requests). */
const CACHED_KEYS = Number(process.env.SOAK_CACHED_KEYS ?? 20_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const [originPort, proxyPort] = [await freePort(), await freePort()];
  await startOrigin(originPort);
  const proxy = await startGatehouse(`
node_id: gh-soak
admin: { listen: "" }
log: { level: warn }
reverse:
  - listen: 127.0.0.1:${proxyPort}
    routes:
      - { match: { path_prefix: /cached }, pool: app, cache: true }
      - { match: {}, pool: app }
pools:
  app: { upstreams: [{ url: "http://127.0.0.1:${originPort}" }] }
`, proxyPort, [...(process.env.SOAK_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
    ...(HEAP_DIR ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${HEAP_DIR}`] : [])]);
  const pid = proxy.pid!;
  const url = `http://127.0.0.1:${proxyPort}`;
  // many keys on the cached route: the store fills up as it would under real traffic
  let n = 0;
  const requests: autocannon.Request[] = [
    { path: '/1k' }, { path: '/1k' }, { path: '/100k' },
    CACHED_KEYS > 0 ? { setupRequest: (r) => ({ ...r, path: `/cached/${n++ % CACHED_KEYS}` }) } : { path: '/1k' },
  ];
  const run = (opts: Partial<autocannon.Options>) => autocannon({ url, connections: CONNECTIONS, requests, ...opts });

  await run({ duration: 2 }); // warm-up: JIT, keep-alive pools
  await sleep(1000);
  const before = rssMb(pid);
  if (HEAP_DIR) { proxy.kill('SIGUSR2'); await sleep(3000); }
  const capacity = await run({ duration: 5 });
  const rate = Math.floor(capacity.requests.average * LOAD);
  console.log(`capacity ${Math.round(capacity.requests.average)} req/s; soaking at ${rate} req/s (${LOAD * 100}%) for ${SECONDS} s`);

  let peak = before;
  const sampler = setInterval(() => { peak = Math.max(peak, rssMb(pid)); }, 250);
  const soak = await run({ duration: SECONDS, overallRate: rate });
  clearInterval(sampler);
  const end = rssMb(pid);
  await sleep(SETTLE * 1000);
  const after = rssMb(pid);
  if (HEAP_DIR) { proxy.kill('SIGUSR2'); await sleep(3000); }

  const errors = soak.errors + soak.timeouts + soak.non2xx + capacity.errors + capacity.timeouts + capacity.non2xx;
  console.log(`requests ${soak.requests.total} (${Math.round(soak.requests.average)} req/s), p50 ${soak.latency.p50} ms, p99 ${soak.latency.p99} ms`);
  console.log(`RSS before ${before.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, at the end ${end.toFixed(0)} MB, after ${SETTLE} s idle ${after.toFixed(0)} MB`);
  console.log(`errors ${errors} (soak: ${soak.errors} errors, ${soak.timeouts} timeouts, ${soak.non2xx} non-2xx; capacity run: ${capacity.errors + capacity.timeouts + capacity.non2xx})`);
  if (HEAP_DIR) console.log(`heap snapshots in ${HEAP_DIR}: ${readdirSync(HEAP_DIR).filter((f) => f.endsWith('.heapsnapshot')).join(', ')}`);
  stopAll();
  process.exitCode = errors === 0 ? 0 : 1;
}

main().catch((e: unknown) => { console.error(e); stopAll(); process.exit(1); });
