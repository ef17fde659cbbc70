/**
 * JavaScript that runs inside each plugin isolate (as `evalClosureSync` bodies), kept apart from
 * host code so it is easy to audit. Neither closure leaks its arguments to the global object:
 * plugin code only ever sees the frozen `log` object and the copies passed to its hooks.
 */

/**
 * Installs `globalThis.log` and strips what an isolate's global would otherwise offer.
 * $0: host log callback (level, text) -> void, synchronous; $1: lines allowed per hook call.
 * Returns `takeDropped()`, which resets the per-call budget and returns lines dropped since.
 */
export const LOG_SHIM = `
const emit = $0, perCall = $1;
let budget = perCall, dropped = 0;
const str = (v) => { try { return typeof v === 'string' ? v : String(v); } catch { return '[unprintable]'; } };
const make = (level) => function (...args) {
  if (budget <= 0) { dropped++; return; }
  budget--;
  let s = '';
  for (let i = 0; i < args.length && s.length < 2048; i++) s += (i ? ' ' : '') + str(args[i]);
  emit(level, s.slice(0, 2048));
};
const log = Object.freeze({ info: make('info'), warn: make('warn'), error: make('error') });
Object.defineProperty(globalThis, 'log', { value: log, writable: false, configurable: false, enumerable: false });
// V8's own console goes nowhere without an inspector; route the habit to the same bridge.
Object.defineProperty(globalThis, 'console', {
  value: Object.freeze({ log: log.info, info: log.info, debug: log.info, warn: log.warn, error: log.error }),
  writable: false, configurable: false, enumerable: false,
});
// isolated-vm adds no Node APIs; these engine extras are removed to keep the surface to the spec.
for (const k of ['WebAssembly', 'SharedArrayBuffer', 'Atomics']) delete globalThis[k];
return function takeDropped() { const d = dropped; dropped = 0; budget = perCall; return d; };
`;

/**
 * Binds the module's exported hooks once. $0: module namespace, $1: ctx.config (a copy),
 * $2: takeDropped from LOG_SHIM, $3: the host log callback (for the dropped-lines count),
 * $4: ms a batch may run before it stops starting calls.
 * Returns { onRequest?, route?, onResponse?, onRequestMany?, routeMany?, onResponseMany? }.
 * A hook wrapper takes one call's views as request-wire.ts encodes them and returns its line: ''
 * for no decision, the decision as JSON, or a FAILED_* sentinel followed by the message as a JSON
 * string (a plugin's throw or an unserialisable result, told apart from timeouts without an
 * envelope). A `…Many` wrapper makes several calls in one crossing (call-batcher.ts): it takes
 * their views in a few strings, framed by length (plugin-sandbox.ts), and returns one line per call
 * made, '\n'-separated. It stops starting calls once $4 ms have passed, so a batch of slow calls
 * ends well within the limit of one call; the host makes the rest in another crossing. (A single
 * call skips the framing: ~1 µs less, and onResponse is always called alone.)
 */
export const FAILED_THROW = '\u0000gatehouse:throw';
export const FAILED_MALFORMED = '\u0000gatehouse:malformed';
export const HOOK_SHIM = `
const ns = $0, takeDropped = $2, emit = $3, batchBudgetMs = $4;
takeDropped(); // top-level logging does not eat the first call's budget
const freeze = (o) => { if (o && typeof o === 'object') { for (const v of Object.values(o)) freeze(v); Object.freeze(o); } return o; };
const ctx = Object.freeze({ config: freeze($1 ?? {}) });
const describe = (e) => {
  try {
    if (e instanceof Error) {
      const at = String(e.stack || '').split('\\n').find((l) => l.trim().startsWith('at '));
      return (e.name + ': ' + e.message + (at ? ' (' + at.trim() + ')' : '')).slice(0, 1000);
    }
    return ('thrown: ' + String(e)).slice(0, 1000);
  } catch { return 'thrown: [unprintable value]'; }
};
// The result leaves as JSON (a string needs no copy options, see request-wire.ts), or as nothing.
// JSON would drop functions and turn a Map into {}: anything but plain data is refused instead,
// by a walk in JavaScript first (a JSON.stringify replacer costs a call from C++ per value).
const { getPrototypeOf } = Object, objectProto = Object.prototype, arrayProto = Array.prototype;
const notPlain = (v, at, depth) => {
  const type = typeof v;
  if (type === 'string' || type === 'number' || type === 'boolean' || type === 'undefined' || v === null) return '';
  if (type !== 'object') return 'a ' + type + ' at "' + at + '"';
  if (depth > 16) return 'nested deeper than 16 at "' + at + '"';
  const proto = getPrototypeOf(v);
  if (proto === arrayProto) {
    for (let i = 0; i < v.length; i++) { const bad = notPlain(v[i], i, depth + 1); if (bad) return bad; }
    return '';
  }
  if (proto !== objectProto && proto !== null) return 'a non-plain object at "' + at + '"';
  for (const k in v) { const bad = notPlain(v[k], k, depth + 1); if (bad) return bad; }
  return '';
};
// A call's line of the answer. JSON never holds a raw newline, and neither do the sentinels.
const failed = (sentinel, message) => sentinel + JSON.stringify(message);
const settle = (r, thrown) => {
  const dropped = takeDropped();
  if (dropped > 0) emit('dropped', String(dropped));
  if (thrown !== undefined) return failed('${FAILED_THROW}', thrown);
  if (r === undefined || r === null) return '';
  try {
    const type = typeof r;
    if ((type === 'object' || type === 'function') && typeof r.then === 'function') {
      return failed('${FAILED_MALFORMED}', 'hook returned a Promise: hooks must be synchronous (no async/await)');
    }
    const bad = notPlain(r, '', 0);
    return bad ? failed('${FAILED_MALFORMED}', 'result is not plain data: ' + bad) : JSON.stringify(r);
  } catch (e) { return failed('${FAILED_MALFORMED}', 'result is not plain data: ' + describe(e)); }
};
// Views arrive as request-wire.ts encodes them: newline-separated request fields, or JSON behind a NUL.
// A request view is lazy: the hook gets a Proxy over a plain object that is filled from the
// string the first time anything looks at it, and every operation after that goes to the filled
// object, so the view behaves as plain data in every respect. A hook that never looks at the
// request pays for a Proxy (~20 ns), not for the object (0.5 µs for 5 headers, 1.2 µs for a
// browser's 15). The headers are a second lazy view: the first three reads of one header find it
// in the string without building the object.
// A Proxy is slow to walk, though: JSON.stringify of a filled view took ~9 µs against ~1.3 for a
// plain object. So each hook is watched: when a quarter of a sample of calls look at the view a
// lot (more operations than building it would cost, or all of its headers), the hook gets plain
// objects built up front for a while, then is sampled again.
const { get: reflectGet, set: reflectSet, has: reflectHas, deleteProperty: reflectDelete, ownKeys: reflectOwnKeys,
  getOwnPropertyDescriptor: reflectDescriptor, defineProperty: reflectDefine, preventExtensions: reflectPreventExtensions,
  setPrototypeOf: reflectSetPrototypeOf } = Reflect;
const { defineProperty } = Object;
const ProxyOf = Proxy;
// Operations on lazy views during the current call (a filled set of headers counts as BUSY).
let touches = 0;
const BUSY = 12, SAMPLE = 32, BUSY_CALLS = 8, PLAIN_CALLS = 4096;
// Proxy traps that fill the target (\`fill\`) before anything else touches it. getPrototypeOf and
// isExtensible are left to the default: filling changes neither.
class LazyView {
  constructor(w) { this.w = w; }
  open(t) { touches++; if (this.w !== null) { this.fill(t, this.w); this.w = null; } return t; }
  // The receiver is passed on, so \`this\` in an accessor a hook defined on the view is the view.
  get(t, k, r) { return reflectGet(this.open(t), k, r); }
  set(t, k, v, r) { return reflectSet(this.open(t), k, v, r); }
  has(t, k) { return reflectHas(this.open(t), k); }
  deleteProperty(t, k) { return reflectDelete(this.open(t), k); }
  ownKeys(t) { return reflectOwnKeys(this.open(t)); }
  getOwnPropertyDescriptor(t, k) { return reflectDescriptor(this.open(t), k); }
  defineProperty(t, k, d) { return reflectDefine(this.open(t), k, d); }
  preventExtensions(t) { return reflectPreventExtensions(this.open(t)); }
  setPrototypeOf(t, p) { return reflectSetPrototypeOf(this.open(t), p); }
}
// The end of the line that starts at \`at\` (the string's length for the last one).
const lineEnd = (w, at) => { const end = w.indexOf('\\n', at); return end === -1 ? w.length : end; };
const field = (v) => (v === '' ? null : v.slice(1));
// Names and values alternate, one per line, from \`at\`; names are unique (Node joins repeated headers).
const fillHeaders = (t, w, at) => {
  while (at <= w.length) {
    const end = lineEnd(w, at), valueEnd = lineEnd(w, end + 1);
    const name = w.slice(at, end), value = w.slice(end + 1, valueEnd);
    if (name === '__proto__') defineProperty(t, name, { value, writable: true, enumerable: true, configurable: true });
    else t[name] = value;
    at = valueEnd + 1;
  }
  return t;
};
// An object of the request's final shape (in RequestView's order), so filling it makes no
// transitions; a lazy view's target is one, never seen before it is filled.
const blankRequest = () => ({ id: '', mode: '', method: '', url: '', host: '', path: '', query: '', headers: null,
  client: null, tls: null, route: null });
// The request fields into \`t\` (a blankRequest()); the headers plain or lazy.
const fillRequest = (t, w, plain) => {
  let at = 0;
  const next = () => { const end = lineEnd(w, at), s = w.slice(at, end); at = end + 1; return s; };
  t.id = next(); t.mode = next(); t.method = next(); t.url = next(); t.host = next(); t.path = next(); t.query = next();
  const ip = next(), port = +next(), user = field(next()), sni = field(next()), version = field(next());
  const route = field(next());
  t.headers = plain ? fillHeaders({}, w, at) : new ProxyOf({}, new LazyHeaders(w, at));
  t.client = { ip, port, user };
  t.tls = version === null ? null : { sni, version };
  t.route = route;
  return t;
};
class LazyRequest extends LazyView {
  fill(t, w) { fillRequest(t, w, false); }
}
class LazyHeaders extends LazyView {
  constructor(w, at) { super(w); this.at = at; this.reads = 0; }
  get(t, k, r) {
    if (this.w === null || typeof k !== 'string' || ++this.reads > 3) return reflectGet(this.open(t), k, r);
    touches++;
    // Not in the string: the filled object would not own it either, so it comes from the prototype.
    const v = this.find(k);
    return v === undefined ? reflectGet(t, k, r) : v;
  }
  find(k) {
    const w = this.w;
    for (let at = this.at; at <= w.length;) {
      const end = lineEnd(w, at), valueEnd = lineEnd(w, end + 1);
      if (end - at === k.length && w.startsWith(k, at)) return w.slice(end + 1, valueEnd);
      at = valueEnd + 1;
    }
    return undefined;
  }
  fill(t, w) { touches += BUSY; fillHeaders(t, w, this.at); }
}
// One hook and how it is given the request view: lazy, or plain for \`plain\` more calls.
const hookOf = (fn, arity) => (typeof fn === 'function' ? { fn, arity, plain: 0, sampled: 0, busy: 0 } : undefined);
const viewFor = (hook, w) => {
  if (w.charCodeAt(0) === 0) return JSON.parse(w.slice(1));
  if (hook.plain > 0) { hook.plain--; return fillRequest(blankRequest(), w, true); }
  return new ProxyOf(blankRequest(), new LazyRequest(w));
};
// After a call with lazy views: \`used\` operations on them.
const sample = (hook, used) => {
  if (used > BUSY) hook.busy++;
  if (++hook.sampled < SAMPLE) return;
  if (hook.busy >= BUSY_CALLS) hook.plain = PLAIN_CALLS;
  hook.sampled = hook.busy = 0;
};
// One call of a hook, settled: \`a\` the request view (onResponse: the response, then \`b\` the request).
const invoke = (hook, a, b) => {
  const { fn, arity } = hook, lazy = hook.plain === 0; // fn called bare: \`this\` stays undefined
  touches = 0;
  let r, thrown;
  try { r = arity === 2 ? fn(viewFor(hook, a), viewFor(hook, b), ctx) : fn(viewFor(hook, a), ctx); }
  catch (e) { thrown = describe(e); }
  if (lazy) sample(hook, touches);
  return settle(r, thrown);
};
const wrap = (hook) => (hook === undefined ? undefined : (a, b) => invoke(hook, a, b));
const wrapMany = (hook) => {
  if (hook === undefined) return undefined;
  const arity = hook.arity;
  return function (...chunks) {
    const t0 = Date.now();
    // Each chunk: "len,len,…,;" then its views back to back (see framed() in plugin-sandbox.ts).
    const views = [];
    for (const chunk of chunks) {
      const head = chunk.indexOf(';');
      const lengths = chunk.slice(0, head).split(',');
      for (let i = 0, at = head + 1; i < lengths.length - 1; i++) {
        const end = at + +lengths[i];
        views.push(chunk.slice(at, end));
        at = end;
      }
    }
    let out = '';
    for (let i = 0; i < views.length; i += arity) {
      if (i > 0) {
        if (Date.now() - t0 >= batchBudgetMs) break;
        out += '\\n';
      }
      out += invoke(hook, views[i], views[i + 1]);
    }
    return out;
  };
};
// Read once: a later reassignment of an exported binding does not change the hooks. A hook's
// single and batched wrappers share its state.
const onRequest = hookOf(ns.onRequest, 1), route = hookOf(ns.route, 1), onResponse = hookOf(ns.onResponse, 2);
return { onRequest: wrap(onRequest), route: wrap(route), onResponse: wrap(onResponse),
  onRequestMany: wrapMany(onRequest), routeMany: wrapMany(route), onResponseMany: wrapMany(onResponse) };
`;
