/**
 * `npm run bench`: Gatehouse against baselines measured in the same run, on loopback.
 * Each proxy runs as its own process. Per row: a saturating autocannon run gives req/s and latency;
 * a second run at a fixed offered rate, the same for every proxy (BENCH_RATE_1K / BENCH_RATE_100K),
 * gives CPU µs per request from the proxy's CPU time in /proc — at equal load, so a slower proxy is
 * not also charged for the extra wake-ups that saturation brings. Only same-run ratios mean something.
 * Env: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 50), BENCH_ONLY (comma list of scenario names),
 * BENCH_REPEAT (default 1: rounds over all scenarios, interleaved; each cell is the median of its rounds).
 * Then the CPU one plugin adds per request, measured within one process (plugin-added.ts; name
 * `plugin-added` in BENCH_ONLY): BENCH_AB_ROUNDS (default 6), BENCH_AB_SECONDS per slice (default 2).
 * Then TLS handshakes per second, full and resumed (tls-handshakes.ts; name `tls-handshakes` in BENCH_ONLY).
 * BENCH_BASELINE: the folder of another built checkout (say, the last release); every Gatehouse row also
 * runs from it, as `NAME@baseline`, interleaved with the current one, so a change is measured in one run.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import autocannon from 'autocannon';
import { scenarios, type Scenario } from './scenarios.js';
import { freePort, waitForPort } from './ports.js';
import { cpuSecondsBetween, readCpu } from './process-cpu.js';
import { measurePluginAdded, type AddedFigures } from './plugin-added.js';
import { measureHandshakes, printHandshakes } from './tls-handshakes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ONLY = process.env.BENCH_ONLY?.split(',');
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 1));
/** The plugin-added section (plugin-added.ts): rounds, and seconds per slice. */
const AB_ROUNDS = Math.max(1, Number(process.env.BENCH_AB_ROUNDS ?? 6));
const AB_SECONDS = Number(process.env.BENCH_AB_SECONDS ?? 2);
/** Offered load (req/s) of the CPU-measuring run, by body; below every proxy's saturation point here. */
const RATE: Record<string, number> = { '1k': Number(process.env.BENCH_RATE_1K ?? 3000), '100k': Number(process.env.BENCH_RATE_100K ?? 1500) };
const BASELINE = process.env.BENCH_BASELINE;
const work = mkdtempSync(join(tmpdir(), 'gh-bench-'));
const children: ChildProcess[] = [];

function startServer(kind: string, port: number, origin?: string): ChildProcess {
  const child = fork(new URL('./servers.ts', import.meta.url).pathname, [kind, String(port), origin ?? ''], {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  return child;
}

/** Gatehouse built in `root` (this checkout by default) on a config. */
function startGatehouse(config: string, root = '.'): ChildProcess {
  const file = join(work, `gatehouse-${children.length}.yaml`);
  writeFileSync(file, config);
  const child = spawn(process.execPath, ['--no-node-snapshot', '--max-semi-space-size=8', join(root, 'bin/gatehouse.js'), '--config', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

interface Row { scenario: string; body: string; rps: number; p50: number; p99: number; cpuUs: number; satCpuUs: number; errors: number }

async function measure(pid: number, url: string, rate: number, opts: Partial<autocannon.Options> = {}): Promise<Omit<Row, 'scenario' | 'body'>> {
  await autocannon({ url, connections: CONNECTIONS, duration: 1, ...opts }); // warm-up: JIT, keep-alive pools
  let before = readCpu(pid);
  const sat = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, ...opts });
  const satCpu = cpuSecondsBetween(before, readCpu(pid));
  before = readCpu(pid);
  const fixed = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, overallRate: rate, ...opts });
  const cpu = cpuSecondsBetween(before, readCpu(pid));
  const perRequest = (seconds: number, n: number) => (n ? Math.round((seconds * 1e6) / n) : NaN);
  return {
    rps: Math.round(sat.requests.average), p50: sat.latency.p50, p99: sat.latency.p99,
    cpuUs: perRequest(cpu, fixed.requests.total), satCpuUs: perRequest(satCpu, sat.requests.total),
    errors: sat.errors + sat.non2xx + sat.timeouts + fixed.errors + fixed.non2xx + fixed.timeouts,
  };
}

/** Runs h2load once and reads its summary (requests done, failures, req/s, mean request time). */
async function h2load(url: string, protocol: 'h1' | 'h2', seconds: number, rps?: number): Promise<{ done: number; failed: number; rps: number; meanMs: number }> {
  const clients = Math.min(CONNECTIONS, 50);
  const args = ['-c', String(clients), '-D', String(seconds), ...(protocol === 'h1' ? ['--h1'] : ['-m', '1']),
    ...(rps ? ['--rps', String(Math.max(1, Math.round(rps / clients)))] : []), url];
  const child = spawn('h2load', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d; });
  const [code] = await once(child, 'exit') as [number];
  if (code !== 0) throw new Error(`h2load exited with ${code}: ${out}`);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const finished = /finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(out);
  const time = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out);
  const ms = (t: string | undefined) => (t === undefined ? NaN : t.endsWith('us') ? parseFloat(t) / 1000 : t.endsWith('ms') ? parseFloat(t) : parseFloat(t) * 1000);
  return { done: Number(requests?.[3] ?? 0), failed: Number(requests?.[5] ?? 0) + Number(requests?.[6] ?? 0), rps: Number(finished?.[1] ?? 0), meanMs: ms(time?.[1]) };
}

/** The same figures as `measure`, driven by h2load over TLS (p50 holds the mean request time; no p99). */
async function measureH2load(pid: number, url: string, rate: number, protocol: 'h1' | 'h2'): Promise<Omit<Row, 'scenario' | 'body'>> {
  await h2load(url, protocol, 1);
  let before = readCpu(pid);
  const sat = await h2load(url, protocol, SECONDS);
  const satCpu = cpuSecondsBetween(before, readCpu(pid));
  before = readCpu(pid);
  const fixed = await h2load(url, protocol, SECONDS, rate);
  const cpu = cpuSecondsBetween(before, readCpu(pid));
  const perRequest = (seconds: number, n: number) => (n ? Math.round((seconds * 1e6) / n) : NaN);
  return {
    rps: Math.round(sat.rps), p50: Math.round(sat.meanMs * 10) / 10, p99: NaN,
    cpuUs: perRequest(cpu, fixed.done), satCpuUs: perRequest(satCpu, sat.done), errors: sat.failed + fixed.failed,
  };
}

async function main(): Promise<void> {
  const originPort = await freePort();
  const origin2Port = await freePort();
  startServer('origin', originPort);
  startServer('origin', origin2Port);
  await waitForPort(originPort);
  await waitForPort(origin2Port);
  const origin = `http://127.0.0.1:${originPort}`;
  const origin2 = `http://127.0.0.1:${origin2Port}`;
  const samples = new Map<string, Row[]>();
  let chosen = scenarios.filter((s) => !ONLY || ONLY.includes(s.name));
  if (BASELINE) chosen = chosen.flatMap((s) => (s.kind === 'gatehouse' ? [s, { ...s, name: `${s.name}@baseline`, root: BASELINE }] : [s]));
  let redis = '';
  if (chosen.some((s) => s.needsRedis)) {
    const redisPort = await freePort();
    const r = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    r.on('error', () => undefined);
    children.push(r);
    if (await waitForPort(redisPort).then(() => true, () => false)) redis = `redis://127.0.0.1:${redisPort}`;
    else { process.stderr.write('redis-server did not start: rows that need it are skipped\n'); chosen = chosen.filter((s) => !s.needsRedis); }
  }
  for (let round = 0; round < REPEAT; round++) {
    for (const s of chosen) {
      const port = await freePort();
      const child = launch(s, port, origin, origin2, redis);
      try {
        await waitForPort(port);
        for (const body of s.bodies ?? ['1k', '100k']) {
          const m = s.h2load
            ? await measureH2load(child.pid!, `https://127.0.0.1:${port}${s.path ?? ''}/${body}`, RATE[body] ?? 1000, s.h2load)
            : await measure(child.pid!, `${s.scheme ?? 'http'}://127.0.0.1:${port}${s.path ?? ''}/${body}`, RATE[body] ?? 1000, s.autocannon?.(port));
          const key = `${s.name}\0${body}`;
          samples.set(key, [...(samples.get(key) ?? []), { scenario: s.name, body, ...m }]);
          process.stderr.write(`${s.name} ${body}: ${m.rps} req/s, ${m.cpuUs} µs CPU/req at ${RATE[body] ?? 1000} req/s, ${m.satCpuUs} at saturation\n`);
        }
      } finally {
        child.kill('SIGTERM');
        await once(child, 'exit').catch(() => undefined);
      }
    }
  }
  const rows = [...samples.values()].map(medianRow);
  print(rows);
  if (!ONLY || ONLY.includes('plugin-added')) {
    const added = await measurePluginAdded({ origin, dir: work, start: startGatehouse, rounds: AB_ROUNDS, seconds: AB_SECONDS, connections: CONNECTIONS, rate: RATE['1k']! });
    printAdded(added);
  }
  if (!ONLY || ONLY.includes('tls-handshakes')) {
    printHandshakes(await measureHandshakes({ origin, dir: work, start: startGatehouse, seconds: SECONDS }));
  }
}

function printAdded(figures: AddedFigures[]): void {
  const median = (xs: number[]) => lowerMedian(xs, (x) => x);
  const signed = (v: number) => (v >= 0 ? `+${v}` : String(v));
  const ms = (xs: [number, number][], i: 0 | 1) => median(xs.map((x) => x[i])).toFixed(2);
  console.log(`\nAdded CPU µs per request by one plugin, on one instance (plugin-added.ts): proxy and plugin process together, and the proxy alone; median of ${AB_ROUNDS} rounds of ${AB_SECONDS}s slices, each round's difference in brackets. Latency at the fixed rate, plugin route vs the plain route.\n`);
  console.log('| plugin | added at fixed load | rounds | of which in the proxy | added saturated | rounds | p50 ms (plain) | p99 ms (plain) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const f of figures) {
    console.log(`| ${f.name} | ${signed(median(f.fixed))} | ${f.fixed.map(signed).join(', ')} | ${signed(median(f.fixedProxy))} | ${signed(median(f.saturated))} | ${f.saturated.map(signed).join(', ')} | ${ms(f.latency, 0)} (${ms(f.plainLatency, 0)}) | ${ms(f.latency, 1)} (${ms(f.plainLatency, 1)}) |`);
  }
}

/** The middle item by `key` (the lower of the two middle ones for an even count). */
function lowerMedian<T>(items: readonly T[], key: (item: T) => number): T {
  return [...items].sort((x, y) => key(x) - key(y))[Math.floor((items.length - 1) / 2)]!;
}

/** The sample with the median CPU per request (so a row's figures come from one run). */
function medianRow(runs: Row[]): Row {
  return lowerMedian(runs, (r) => r.cpuUs);
}

function launch(s: Scenario, port: number, origin: string, origin2: string, redis: string): ChildProcess {
  if (s.kind === 'gatehouse') return startGatehouse(s.config!(port, origin, work, origin2, redis), s.root);
  return startServer(s.kind, port, origin);
}

function print(rows: Row[]): void {
  const base = new Map(rows.filter((r) => r.scenario === 'undici-pipe').map((r) => [r.body, r]));
  const ratio = (v: number, b: number | undefined) => (b ? `${(v / b).toFixed(2)}×` : '-');
  const head = ['scenario', 'body', 'req/s (max)', 'p50 ms', 'p99 ms', 'CPU µs/req', 'vs undici pipe', 'CPU µs/req (saturated)', 'vs undici pipe', 'errors'];
  const cell = (v: number) => (Number.isNaN(v) ? '-' : String(v));
  const lines = rows.map((r) => [r.scenario, r.body, String(r.rps), cell(r.p50), cell(r.p99),
    String(r.cpuUs), ratio(r.cpuUs, base.get(r.body)?.cpuUs), String(r.satCpuUs), ratio(r.satCpuUs, base.get(r.body)?.satCpuUs), String(r.errors)]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n${SECONDS}s per run, ${CONNECTIONS} connections, keep-alive, loopback; median of ${REPEAT} interleaved run(s).`);
  console.log(`CPU µs/req at a fixed offered load (1k: ${RATE['1k']} req/s, 100k: ${RATE['100k']} req/s) and at saturation.\n`);
  console.log(fmt(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
}

const stopAll = () => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); };
process.on('exit', stopAll);
process.on('SIGINT', () => { stopAll(); process.exit(130); });
main().then(() => { stopAll(); process.exit(0); }, (e) => { console.error(e); stopAll(); process.exit(1); });
