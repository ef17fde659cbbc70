/**
 * What sending the calls of one event-loop turn in one message to the plugin process saves, and
 * the latency it adds: a pass-through onRequest hook called in a closed loop by C concurrent
 * callers, batched and unbatched, in alternating slices of the same run. Prints CPU µs per call
 * in the proxy's process and in the plugin's, calls per second, and the call latency p50/p99.
 *   npm run bench:plugin-batching [-- seconds-per-slice rounds]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Plugin } from '../src/plugins/plugin.js';
import { requestViewFrom } from '../src/plugins/plugin-view.js';
import { cpuSecondsBetween, readCpu } from './process-cpu.js';

const SECONDS = Number(process.argv[2] ?? 2);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONCURRENCY = [1, 16];

const view = requestViewFrom({
  url: 'http://www.example.com/some/path?x=1',
  headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', accept: 'text/html', 'accept-encoding': 'gzip, br', cookie: 'a=b; c=d' },
});

interface Slice { calls: number; parentUs: number; childUs: number; latencies: number[] }

async function slice(p: Plugin, concurrency: number): Promise<Slice> {
  const pid = p.stats().pid!;
  const latencies: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const child0 = readCpu(pid);
  const parent0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const r = await p.onRequest(view);
      if (!r.ok) throw new Error(`call failed: ${r.error.kind} ${r.error.message}`);
      latencies.push(performance.now() - t0);
    }
  }));
  const parent = process.cpuUsage(parent0);
  const child = cpuSecondsBetween(child0, readCpu(pid));
  const calls = latencies.length;
  return { calls, parentUs: (parent.user + parent.system) / calls, childUs: (child * 1e6) / calls, latencies };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], q: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * q))]!; };

const dir = mkdtempSync(join(tmpdir(), 'gh-bench-batching-'));
const file = join(dir, 'pass.js');
writeFileSync(file, 'export function onRequest(req) {}\n');
const plugins = { batched: await Plugin.load({ name: 'batched', file }), unbatched: await Plugin.load({ name: 'unbatched', file, batchCalls: false }) };
try {
  console.log(`Plugin calls, batched per event-loop turn or sent one by one: medians of ${ROUNDS} alternating ${SECONDS}s slices.\n`);
  console.log('| callers | mode | calls/s | proxy CPU µs/call | plugin process CPU µs/call | latency p50 µs | latency p99 µs |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const c of CONCURRENCY) {
    const runs: Record<string, Slice[]> = { batched: [], unbatched: [] };
    for (const [mode, p] of Object.entries(plugins)) await slice(p, c); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? ['unbatched', 'batched'] : ['batched', 'unbatched'];
      for (const mode of order) runs[mode]!.push(await slice(plugins[mode as keyof typeof plugins], c));
    }
    for (const mode of ['batched', 'unbatched']) {
      const r = runs[mode]!;
      const all = r.flatMap((s) => s.latencies);
      console.log(`| ${c} | ${mode} | ${Math.round(median(r.map((s) => s.calls)) / SECONDS)} | ${median(r.map((s) => s.parentUs)).toFixed(1)} | ${median(r.map((s) => s.childUs)).toFixed(1)} | ${(pct(all, 0.5) * 1000).toFixed(0)} | ${(pct(all, 0.99) * 1000).toFixed(0)} |`);
    }
  }
} finally {
  plugins.batched.close();
  plugins.unbatched.close();
  rmSync(dir, { recursive: true, force: true });
}
