/**
 * What one plugin call costs, per way of making it (raw isolated-vm, no Gatehouse code), in process
 * CPU µs per call (all threads: isolated-vm's timer thread and the watchdog thread count).
 * Each call is preceded by ~1 MB of unrelated memory traffic, as in a server where the rest of the
 * request pushes the isolate out of the CPU caches; a churn-only loop is measured in the same rounds
 * and subtracted. Rounds are interleaved and each figure is a median (the machine is shared).
 *   npx node --no-node-snapshot --import tsx bench/plugin-call-cost.ts [calls per round] [rounds]
 */
import ivm from 'isolated-vm';

const N = Number(process.argv[2] ?? 20_000);
const ROUNDS = Number(process.argv[3] ?? 7);

const view = {
  id: '0f3c2a9e-5b1d-4c1e-9a55-2f6d7c8b9a01', mode: 'reverse', method: 'GET', url: 'http://www.example.com/some/path?x=1',
  host: 'www.example.com', path: '/some/path', query: 'x=1',
  headers: {
    host: 'www.example.com', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', accept: 'text/html,application/xhtml+xml',
    'accept-encoding': 'gzip, br', 'accept-language': 'en-US,en;q=0.9', cookie: 'a=b; c=d', connection: 'keep-alive',
  },
  client: { ip: '127.0.0.1', port: 40000, user: null }, tls: null, route: 'app',
};

// ~1 MB written per call, in a 8 MB buffer (bigger than L2), plus a little garbage for the GC.
const churnBuf = new Uint8Array(8 << 20);
let churnAt = 0;
let sink = 0;
function churn(): void {
  const end = churnAt + (1 << 20);
  for (let i = churnAt; i < end; i += 64) churnBuf[i & (churnBuf.length - 1)]! += 1;
  churnAt = end & (churnBuf.length - 1);
  sink += JSON.stringify({ a: churnAt, b: [1, 2, 3] }).length;
}

const isolate = new ivm.Isolate({ memoryLimit: 32 });
const context = isolate.createContextSync();
const fn = (src: string) => context.evalSync(src, { reference: true }) as ivm.Reference;
const passObj = fn('(function (req) { if (req.path === "/admin") return { deny: { status: 403, reason: "x" } }; })');
const routeObj = fn('(function (req) { return { pool: "app" }; })');
const passJson = fn('(function (s) { const req = JSON.parse(s); if (req.path === "/admin") return { deny: { status: 403, reason: "x" } }; })');
const routeJsonOut = fn('(function (req) { const r = { pool: "app" }; return r === undefined ? undefined : JSON.stringify(r); })');
context.global.setSync('__req', new ivm.ExternalCopy(view).copyInto());
const script = isolate.compileScriptSync('(function (req) { if (req.path === "/admin") return 1; })(__req)');

// The per-call guard the watchdog variant uses: a shared word, odd while a call runs.
const sab = new SharedArrayBuffer(16);
const ctl = new Int32Array(sab);
const watchdog = new ivm.Isolate({ memoryLimit: 8 });
const wloop = (watchdog.createContextSync().evalSync(`(function (sab, tickMs) {
  const ctl = new Int32Array(sab);
  let last = 0, ticks = 0;
  for (;;) {
    if (Atomics.wait(ctl, 1, 0, tickMs) !== 'timed-out' && ctl[1] !== 0) return ticks;
    const v = Atomics.load(ctl, 0);
    if ((v & 1) === 1 && v === last) ticks++; else last = v;
  }
})`, { reference: true }) as ivm.Reference);
const wdone = wloop.apply(undefined, [new ivm.ExternalCopy(sab).copyInto(), 2]);

const T = { timeout: 20, arguments: { copy: true }, result: { copy: true } } as const;
const NT = { arguments: { copy: true }, result: { copy: true } } as const;
const variants: Record<string, () => void> = {
  'churn only': () => {},
  'applySync copy, timeout 20 (today)': () => { passObj.applySync(undefined, [view], T); },
  'applySync copy, no timeout': () => { passObj.applySync(undefined, [view], NT); },
  'applySync copy, no timeout + SAB guard + watchdog': () => {
    const s = ctl[0]! + 1;
    ctl[0] = s;
    passObj.applySync(undefined, [view], NT);
    Atomics.compareExchange(ctl, 0, s, s + 1);
  },
  'JSON string in, no timeout': () => { passJson.applySync(undefined, [JSON.stringify(view)], NT); },
  'ExternalCopy.copyInto arg, no timeout': () => { passObj.applySync(undefined, [new ivm.ExternalCopy(view).copyInto({ release: true })], { result: { copy: true } }); },
  'script.runSync on a preset global (no per-call arg), no timeout': () => { script.runSync(context, { copy: true }); },
  'route: result copy, no timeout': () => { routeObj.applySync(undefined, [view], NT); },
  'route: result JSON string, no timeout': () => { const r = routeJsonOut.applySync(undefined, [view], NT); if (typeof r === 'string') JSON.parse(r); },
  'applySyncPromise copy, no timeout': () => { passObj.applySyncPromise(undefined, [view], { arguments: { copy: true } }); },
};

function measure(call: () => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) { churn(); call(); }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / N;
}

const names = Object.keys(variants).filter((n) => !n.startsWith('applySyncPromise'));
const samples = new Map<string, number[]>(names.map((n) => [n, []]));
for (const n of names) for (let i = 0; i < 2000; i++) variants[n]!(); // warm up
for (let r = 0; r < ROUNDS; r++) {
  for (const n of names) samples.get(n)!.push(measure(variants[n]!));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const base = median(samples.get('churn only')!);
console.log(`${N} calls × ${ROUNDS} rounds; churn only: ${base.toFixed(1)} µs/iteration (subtracted below)`);
for (const n of names.slice(1)) console.log(`${(median(samples.get(n)!) - base).toFixed(1).padStart(6)} µs  ${n}`);
Atomics.store(ctl, 1, 1);
Atomics.notify(ctl, 1);
await wdone;
watchdog.dispose();
isolate.dispose();
if (sink < 0) console.log(sink);
