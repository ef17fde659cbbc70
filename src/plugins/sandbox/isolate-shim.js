// @ts-check
/**
 * The JavaScript that runs inside every plugin isolate, before and around the plugin's own code.
 * It is evaluated as one function expression (isolate-runner.ts): the plugin never sees its
 * arguments, only the frozen `log`/`console` objects it installs and the copies passed to hooks.
 *
 * install(emit, linesPerCall, maxResultChars) runs before the plugin module; it returns
 * { bind, takeDropped }. bind(ns, config) runs after the module and returns one wrapper per
 * exported hook. A wrapper takes the views as JSON strings and returns one string:
 *   ''                          the hook decided nothing
 *   JSON                        the decision
 *   '\u0000throw' + JSON        the hook threw (the message as a JSON string)
 *   '\u0000malformed' + JSON    the result is not usable (a Promise, not plain data, too large)
 * Built-ins the wrappers use are captured here, before plugin code can replace them.
 */
(function install(
  /** @type {(level: string, text: string) => void} the process's log callback (synchronous) */ emit,
  /** @type {number} */ linesPerCall,
  /** @type {number} */ maxResultChars,
) {
  const { parse, stringify } = JSON;
  const { getPrototypeOf, freeze: freezeObject, values, defineProperty } = Object;
  const objectProto = Object.prototype, arrayProto = Array.prototype;
  const Err = Error;
  const toStr = String;

  let budget = linesPerCall, dropped = 0;
  /** @param {unknown} v */
  const text = (v) => { try { return typeof v === 'string' ? v : toStr(v); } catch { return '[unprintable]'; } };
  /** @param {string} level */
  const logAt = (level) => (/** @type {unknown[]} */ ...args) => {
    if (budget <= 0) { dropped++; return; }
    budget--;
    let s = '';
    for (let i = 0; i < args.length && s.length < 2048; i++) s += (i ? ' ' : '') + text(args[i]);
    emit(level, s.slice(0, 2048));
  };
  const log = freezeObject({ info: logAt('info'), warn: logAt('warn'), error: logAt('error') });
  const hidden = { writable: false, configurable: false, enumerable: false };
  defineProperty(globalThis, 'log', { value: log, ...hidden });
  // V8's console writes nowhere without an inspector: route the habit to the same log.
  defineProperty(globalThis, 'console', {
    value: freezeObject({ log: log.info, info: log.info, debug: log.info, warn: log.warn, error: log.error }), ...hidden,
  });
  // Engine extras outside the plugin API: shared memory and blocking waits, and compiled code.
  for (const k of ['WebAssembly', 'SharedArrayBuffer', 'Atomics']) delete /** @type {any} */ (globalThis)[k];

  /** Lines dropped since the last call: the budget starts again for every call. */
  const takeDropped = () => { const d = dropped; dropped = 0; budget = linesPerCall; return d; };

  /** @param {unknown} e */
  const describe = (e) => {
    try {
      if (e instanceof Err) {
        const at = toStr(e.stack || '').split('\n').find((l) => l.trim().startsWith('at '));
        return (e.name + ': ' + e.message + (at ? ' (' + at.trim() + ')' : '')).slice(0, 1000);
      }
      return ('thrown: ' + toStr(e)).slice(0, 1000);
    } catch { return 'thrown: [unprintable value]'; }
  };

  /**
   * '' when `v` is plain data (what JSON keeps as it is), else where it is not: JSON would drop a
   * function and turn a Map into {}, so such a result is refused rather than changed.
   * @param {unknown} v @param {string | number} at @param {number} depth @returns {string}
   */
  const notPlain = (v, at, depth) => {
    const type = typeof v;
    if (type === 'string' || type === 'number' || type === 'boolean' || type === 'undefined' || v === null) return '';
    if (type !== 'object') return 'a ' + type + ' at "' + at + '"';
    if (depth > 16) return 'nested deeper than 16 at "' + at + '"';
    const o = /** @type {Record<string, unknown>} */ (v);
    const proto = getPrototypeOf(o);
    if (proto === arrayProto) {
      const a = /** @type {unknown[]} */ (v);
      for (let i = 0; i < a.length; i++) { const bad = notPlain(a[i], i, depth + 1); if (bad) return bad; }
      return '';
    }
    if (proto !== objectProto && proto !== null) return 'a non-plain object at "' + at + '"';
    for (const k in o) { const bad = notPlain(o[k], k, depth + 1); if (bad) return bad; }
    return '';
  };

  /** @param {string} kind @param {string} message */
  const failed = (kind, message) => '\u0000' + kind + stringify(message);

  /** @param {unknown} r @param {string | undefined} thrown */
  const settle = (r, thrown) => {
    const d = takeDropped();
    if (d > 0) emit('dropped', toStr(d));
    if (thrown !== undefined) return failed('throw', thrown);
    if (r === undefined || r === null) return '';
    try {
      if ((typeof r === 'object' || typeof r === 'function') && typeof (/** @type {any} */ (r)).then === 'function') {
        return failed('malformed', 'hook returned a Promise: hooks must be synchronous (no async/await)');
      }
      const bad = notPlain(r, '', 0);
      if (bad) return failed('malformed', 'result is not plain data: ' + bad);
      const out = stringify(r);
      return out.length > maxResultChars ? failed('malformed', 'result is larger than ' + maxResultChars + ' characters of JSON') : out;
    } catch (e) { return failed('malformed', 'result is not plain data: ' + describe(e)); }
  };

  /** @param {unknown} o @returns {unknown} */
  const deepFreeze = (o) => {
    if (o && typeof o === 'object') { for (const v of values(o)) deepFreeze(v); freezeObject(o); }
    return o;
  };

  /** @param {Record<string, unknown>} ns @param {unknown} config */
  const bind = (ns, config) => {
    takeDropped(); // lines logged by the module's top level do not count against the first call
    const ctx = freezeObject({ config: deepFreeze(config ?? {}) });
    /** @param {unknown} fn @param {number} views */
    const wrap = (fn, views) => {
      if (typeof fn !== 'function') return undefined;
      // `fn` is called bare, so `this` in a hook stays undefined; the views are fresh copies.
      return views === 2
        ? (/** @type {string} */ res, /** @type {string} */ req) => {
          let r, thrown;
          try { r = fn(parse(res), parse(req), ctx); } catch (e) { thrown = describe(e); }
          return settle(r, thrown);
        }
        : (/** @type {string} */ req) => {
          let r, thrown;
          try { r = fn(parse(req), ctx); } catch (e) { thrown = describe(e); }
          return settle(r, thrown);
        };
    };
    // Read once: reassigning an exported binding later does not change the hooks.
    return { onRequest: wrap(ns.onRequest, 1), route: wrap(ns.route, 1), onResponse: wrap(ns.onResponse, 2) };
  };

  return { bind, takeDropped };
})
