/**
 * What one plugin adds to a request, measured on one Gatehouse instance: five routes to the same
 * pool (none; filter plugins that read nothing, the path and a header, or the whole request; a
 * routing plugin), driven in turn, in short slices, several rounds, with the order rotated each
 * round. Separate instances differ by ±5–10 µs per request between runs on a shared machine (JIT
 * decisions, heap layout, the box's load), which is as much as a plugin costs; slices of one
 * instance share all of that, so their per-round differences measure the plugin. CPU is the
 * proxy's and its plugin processes' together, and the proxy's alone; each figure is the median of
 * the rounds' differences. The latency figures are autocannon's at the fixed rate.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { freePort, waitForPort } from './ports.js';
import { cpuSecondsBetween, readCpu } from './process-cpu.js';

export interface AddedFigures {
  name: string;
  /** µs of CPU added per request at the fixed rate: proxy + plugin processes, and the proxy alone. */
  fixed: number[]; fixedProxy: number[];
  saturated: number[];
  /** Latency ms at the fixed rate, [p50, p99] per round: the plugin's route, and the plain route. */
  latency: [number, number][]; plainLatency: [number, number][];
}

const ROUTES = ['plain', 'filter', 'reads', 'whole', 'route'] as const;
const NAMES: Record<Exclude<(typeof ROUTES)[number], 'plain'>, string> = {
  filter: 'pass-through filter plugin (onRequest)',
  reads: 'filter plugin reading the path and a header',
  whole: 'filter plugin reading the whole request (JSON.stringify)',
  route: 'routing plugin (route → its own pool)',
};

function config(port: number, origin: string, dir: string): string {
  writeFileSync(join(dir, 'ab-pass.js'), 'export function onRequest(req) {}\n');
  // The request view is built in the isolate only as far as a hook reads it (isolate-shims.ts):
  // ab-reads reads what a typical filter reads, ab-whole all of it.
  writeFileSync(join(dir, 'ab-reads.js'),
    "export function onRequest(req) { if (req.path === '/admin' || req.headers['x-block'] === '1') return { deny: { status: 403, reason: 'no' } }; }\n");
  writeFileSync(join(dir, 'ab-whole.js'), "let last = ''; export function onRequest(req) { last = JSON.stringify(req); }\n");
  writeFileSync(join(dir, 'ab-same-pool.js'), "export function route(req) { return { pool: 'app' }; }\n");
  return `
node_id: bench
admin: { listen: "" }
log: { level: info, format: json, file: ${dir}/access-ab-${port}.log }
plugins: { dir: "${dir}", watch: false }
reverse:
  - listen: 127.0.0.1:${port}
    routes:
      - { name: plain, match: { path_prefix: /plain }, pool: app }
      - { name: filter, match: { path_prefix: /filter }, pool: app, plugins: [ab-pass.js] }
      - { name: reads, match: { path_prefix: /reads }, pool: app, plugins: [ab-reads.js] }
      - { name: whole, match: { path_prefix: /whole }, pool: app, plugins: [ab-whole.js] }
      - { name: route, match: { path_prefix: /route }, pool: app, plugins: [ab-same-pool.js] }
pools:
  app:
    upstreams: [{ url: "${origin}" }]
`;
}

interface SliceFigures { cpu: number; proxyCpu: number; latency: [number, number] }

async function slice(pid: number, url: string, seconds: number, connections: number, rate?: number): Promise<SliceFigures> {
  const before = readCpu(pid);
  const proxyBefore = readCpu(pid, { tree: false });
  const r = await autocannon({ url, connections, duration: seconds, ...(rate ? { overallRate: rate } : {}) });
  const errors = r.errors + r.non2xx + r.timeouts;
  if (errors) throw new Error(`${url}: ${errors} errors`);
  const perRequest = (s: number) => (s * 1e6) / r.requests.total;
  return {
    cpu: perRequest(cpuSecondsBetween(before, readCpu(pid))),
    proxyCpu: perRequest(cpuSecondsBetween(proxyBefore, readCpu(pid, { tree: false }))),
    latency: [r.latency.p50, r.latency.p99],
  };
}

/** `start` runs Gatehouse on a config (run.ts's startGatehouse); `dir` takes the plugin files. */
export async function measurePluginAdded(opts: {
  origin: string; dir: string; start: (config: string) => ChildProcess; rounds: number; seconds: number; connections: number; rate: number;
}): Promise<AddedFigures[]> {
  const port = await freePort();
  const child = opts.start(config(port, opts.origin, opts.dir));
  try {
    await waitForPort(port);
    const url = (route: string) => `http://127.0.0.1:${port}/${route}/1k`;
    for (const route of ROUTES) await autocannon({ url: url(route), connections: opts.connections, duration: 1 }); // warm-up
    const cpu: Record<string, { fixed: SliceFigures[]; saturated: SliceFigures[] }> = Object.fromEntries(ROUTES.map((r) => [r, { fixed: [], saturated: [] }]));
    for (let round = 0; round < opts.rounds; round++) {
      // rotate the order, so no route is always measured right after another
      const order = ROUTES.map((_, i) => ROUTES[(i + round) % ROUTES.length]!);
      for (const route of order) {
        cpu[route]!.saturated.push(await slice(child.pid!, url(route), opts.seconds, opts.connections));
        cpu[route]!.fixed.push(await slice(child.pid!, url(route), opts.seconds, opts.connections, opts.rate));
      }
      process.stderr.write(`plugin-added round ${round + 1}: ${ROUTES.map((r) => `${r} ${cpu[r]!.fixed.at(-1)!.cpu.toFixed(1)}/${cpu[r]!.saturated.at(-1)!.cpu.toFixed(1)}`).join(', ')} µs CPU/req (fixed/saturated)\n`);
    }
    const minus = (xs: SliceFigures[], base: SliceFigures[], key: 'cpu' | 'proxyCpu') => xs.map((x, i) => Math.round((x[key] - base[i]![key]) * 10) / 10);
    return (['filter', 'reads', 'whole', 'route'] as const).map((r) => ({
      name: NAMES[r],
      fixed: minus(cpu[r]!.fixed, cpu.plain!.fixed, 'cpu'),
      fixedProxy: minus(cpu[r]!.fixed, cpu.plain!.fixed, 'proxyCpu'),
      saturated: minus(cpu[r]!.saturated, cpu.plain!.saturated, 'cpu'),
      latency: cpu[r]!.fixed.map((s) => s.latency),
      plainLatency: cpu.plain!.fixed.map((s) => s.latency),
    }));
  } finally {
    child.kill('SIGTERM');
  }
}
