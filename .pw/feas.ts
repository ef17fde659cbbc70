import ivm from 'isolated-vm';
const plugin = new ivm.Isolate({ memoryLimit: 32 });
const pctx = plugin.createContextSync();
const spin = pctx.evalSync('(function(){ while(true){} })', { reference: true }) as ivm.Reference;
const ok = pctx.evalSync('(function(x){ return x+1 })', { reference: true }) as ivm.Reference;

const w = new ivm.Isolate({ memoryLimit: 8 });
const wctx = w.createContextSync();
const sab = new SharedArrayBuffer(64);
const ctl = new Int32Array(sab);
const loop = wctx.evalSync(`(function(iso, sab, limitMs, tickMs){
  const ctl = new Int32Array(sab);
  let last = 0, since = 0;
  ctl[2] = 1;
  for(;;){
    Atomics.wait(ctl, 3, 0, tickMs);
    if (ctl[3] === 1) return 'stopped';
    const v = Atomics.load(ctl, 0);
    const now = Date.now();
    if ((v & 1) === 1 && v === last) {
      if (now - since >= limitMs) { Atomics.store(ctl, 1, v); iso.dispose(); return 'killed ' + v; }
    } else { last = v; since = now; }
  }
})`, { reference: true }) as ivm.Reference;
const p = loop.apply(undefined, [plugin, new ivm.ExternalCopy(sab).copyInto(), 20, 2]).then((r) => console.log('watchdog:', r), (e) => console.log('watchdog err', e));
await new Promise((r) => setTimeout(r, 50));
console.log('running flag', ctl[2]);
console.log(ok.applySync(undefined, [1]));
const t0 = Date.now();
ctl[0]++;
try { spin.applySync(undefined, []); } catch (e) { console.log('spin threw after', Date.now() - t0, 'ms:', (e as Error).message, 'killed seq', ctl[1], 'disposed', plugin.isDisposed); }
ctl[0]++;
await p;
