/**
 * `npm run bench:trace`: what the decision trace costs a request, in-process. "off" is what every stage
 * pays when no trace is built (`ctx.trace?.step(…)` on undefined); "on" builds the trace of a typical
 * reverse request (route, cache lookup, balancer, upstream, cache outcome) and keeps it in the recorder
 * (trace.keep), as a request nobody asked to see. Prints ns per request, median of rounds.
 */
import { DecisionTrace } from '../src/observability/decision-trace.js';
import { TraceRecorder } from '../src/observability/trace-recorder.js';

const N = Number(process.env.TRACE_BENCH_N ?? 200_000);
const ROUNDS = Number(process.env.TRACE_BENCH_ROUNDS ?? 7);
const candidates = ['http://10.0.0.1:80', 'http://10.0.0.2:80'];

interface Ctx { trace?: DecisionTrace; id: string; startMs: number }

/** The steps a cache-miss reverse request records, as the stages write them. */
function stages(ctx: Ctx, i: number): void {
  ctx.trace?.step('route', { route: 'app', pool: 'app' });
  ctx.trace?.step('cache', { lookup: 'uri-miss', reason: 'nothing stored for this URI' });
  ctx.trace?.step('balancer', { pool: 'app', policy: 'round_robin', candidates, pick: candidates[i & 1] });
  const up = ctx.trace?.step('upstream', { upstream: candidates[i & 1], attempt: 0 });
  if (up) { up.status = 200; up.head_us = 120; }
  ctx.trace?.step('cache_outcome', { result: 'uri-miss-stored' });
}

function run(mode: 'none' | 'off' | 'on', recorder: TraceRecorder): number {
  const on = mode === 'on';
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const ctx: Ctx = { id: `req-${i}`, startMs: performance.now() };
    if (mode === 'none') { sink ^= ctx.id.length; continue; }
    if (on) ctx.trace = new DecisionTrace(ctx.id, ctx.startMs, { listener: 'reverse[0]', method: 'GET', url: '/x', client: '127.0.0.1' });
    stages(ctx, i);
    sink ^= ctx.id.length;
    if (ctx.trace) { ctx.trace.status = 200; recorder.keep(ctx.trace); }
  }
  return Number(process.hrtime.bigint() - t0) / N;
}

/** Keeps the loop's work observable, so none of it is optimised away. */
let sink = 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const recorder = new TraceRecorder({ allow: [], keep: 1000, log: false });
run('none', recorder); run('off', recorder); run('on', recorder); // warm-up
const none: number[] = [];
const off: number[] = [];
const on: number[] = [];
for (let r = 0; r < ROUNDS; r++) { none.push(run('none', recorder)); off.push(run('off', recorder)); on.push(run('on', recorder)); }
// every figure includes the loop and the context object; the trace's own cost is the difference to `none`
const base = median(none);
const delta = (xs: number[]) => { const d = median(xs) - base; return `${d >= 0 ? '+' : ''}${d.toFixed(0)} ns${d < 50 ? ' (within the noise of the loop)' : ''}`; };
console.log(`decision trace, ns per request (median of ${ROUNDS} rounds of ${N}; loop and context alone: ${base.toFixed(0)} ns):`);
console.log(`  off (5 stage checks, no trace built): ${delta(off)}`);
console.log(`  on, kept (trace.keep), not returned:  ${delta(on)}`);
if (sink === 0.5) console.log('');
