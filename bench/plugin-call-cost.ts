/**
 * What one plugin call costs, per way of making it (raw isolated-vm, no Gatehouse code), in process
 * CPU µs per call (all threads: isolated-vm's timer thread and the watchdog thread count).
 * Each call is preceded by ~1 MB of unrelated memory traffic, as in a server where the rest of the
 * request pushes the isolate out of the CPU caches; a churn-only loop is measured in the same rounds
 * and subtracted. Rounds are interleaved and each figure is a median (the machine is shared).
 * CHURN=0 leaves the churn out (a hot, tight loop); ONLY=a,b runs the variants whose names contain a or b.
 *   npx node --no-node-snapshot --import tsx bench/plugin-call-cost.ts [calls per round] [rounds]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ivm from 'isolated-vm';
import { Plugin } from '../src/plugins/plugin.js';
import type { RequestView } from '../src/plugins/plugin-types.js';
import { encodeRequestView } from '../src/plugins/request-wire.js';
import { compileIsolatesInline } from '../src/plugins/isolate-tiering.js';

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
const CHURN = process.env.CHURN !== '0';
function churn(): void {
  if (!CHURN) return;
  const end = churnAt + (1 << 20);
  for (let i = churnAt; i < end; i += 64) churnBuf[i & (churnBuf.length - 1)]! += 1;
  churnAt = end & (churnBuf.length - 1);
  sink += JSON.stringify({ a: churnAt, b: [1, 2, 3] }).length;
}

// As Gatehouse does before its first plugin isolate (see src/plugins/isolate-tiering.ts).
compileIsolatesInline();
const isolate = new ivm.Isolate({ memoryLimit: 32 });
const context = isolate.createContextSync();
const fn = (src: string) => context.evalSync(src, { reference: true }) as ivm.Reference;
const passObj = fn('(function (req) { if (req.path === "/admin") return { deny: { status: 403, reason: "x" } }; })');
const routeObj = fn('(function (req) { return { pool: "app" }; })');
const passJson = fn('(function (s) { const req = JSON.parse(s); if (req.path === "/admin") return { deny: { status: 403, reason: "x" } }; })');
const routeJsonOut = fn('(function (req) { const r = { pool: "app" }; return r === undefined ? undefined : JSON.stringify(r); })');
context.global.setSync('__req', new ivm.ExternalCopy(view).copyInto());
const primArgs = fn(`(function (id, mode, method, url, host, path, query, headers, ip, port, user, sni, tlsv, route) {
  const req = { id, mode, method, url, host, path, query, headers: JSON.parse(headers), client: { ip, port, user },
    tls: tlsv === null ? null : { sni, version: tlsv }, route };
  if (req.path === "/admin") return { deny: { status: 403, reason: "x" } };
})`);
const primArgsFlat = fn(`(function (id, mode, method, url, host, path, query, headers, ip, port, user, sni, tlsv, route) {
  const h = {}, parts = headers.split('\\n');
  for (let i = 0; i + 1 < parts.length; i += 2) h[parts[i]] = parts[i + 1];
  const req = { id, mode, method, url, host, path, query, headers: h, client: { ip, port, user },
    tls: tlsv === null ? null : { sni, version: tlsv }, route };
  if (req.path === "/admin") return { deny: { status: 403, reason: "x" } };
})`);
const flatHeaders = (h: Record<string, string>) => { let s = ''; for (const k in h) s += k + '\n' + h[k] + '\n'; return s; };
const noopStr = fn('(function (s) { return undefined; })');
const wireView = encodeRequestView(view as RequestView);
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

// The whole Gatehouse call path (watchdog, shim, stats, validation) for the same pass-through hook.
const dir = mkdtempSync(join(tmpdir(), 'gh-call-cost-'));
writeFileSync(join(dir, 'pass.js'), 'export function onRequest(req) { if (req.path === "/admin") return { deny: { status: 403, reason: "x" } }; }\n');
const plugin = Plugin.load({ name: 'pass', file: join(dir, 'pass.js') });

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
  'primitive args + headers JSON, no timeout': () => {
    const v = view;
    primArgs.applySync(undefined, [v.id, v.mode, v.method, v.url, v.host, v.path, v.query, JSON.stringify(v.headers), v.client.ip, v.client.port, v.client.user, null, null, v.route], { result: { copy: true } });
  },
  'primitive args + headers flat string, no timeout': () => {
    const v = view;
    primArgsFlat.applySync(undefined, [v.id, v.mode, v.method, v.url, v.host, v.path, v.query, flatHeaders(v.headers), v.client.ip, v.client.port, v.client.user, null, null, v.route], { result: { copy: true } });
  },
  'applySync one string arg, no options, noop': () => { noopStr.applySync(undefined, [wireView]); },
  'applySync no args, no options, noop': () => { noopStr.applySync(undefined, []); },
  'Gatehouse Plugin.onRequest (view object)': () => { plugin.onRequest(view as RequestView); },
  'Gatehouse Plugin.onRequest (already encoded)': () => { plugin.onRequest(wireView); },
  'route: result copy, no timeout': () => { routeObj.applySync(undefined, [view], NT); },
  'route: result JSON string, no timeout': () => { const r = routeJsonOut.applySync(undefined, [view], NT); if (typeof r === 'string') JSON.parse(r); },
};

function measure(call: () => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) { churn(); call(); }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / N;
}

const only = process.env.ONLY?.split(',');
const names = Object.keys(variants).filter((n, i) => i === 0 || (only ? only.some((o) => n.includes(o)) : true));
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
plugin.close();
rmSync(dir, { recursive: true });
if (sink < 0) console.log(sink);
