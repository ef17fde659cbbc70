/**
 * One isolate running one plugin module: compile → instantiate (imports rejected) → evaluate,
 * hooks bound once, then synchronous calls with copied data in and out. Knows nothing about
 * stats, retries or quarantine (that is `Plugin`); it only classifies what went wrong.
 */
import ivm from 'isolated-vm';
import { watchCalls, type WatchSlot } from './call-watchdog.js';
import { compileIsolatesInline } from './isolate-tiering.js';
import { FAILED_MALFORMED, FAILED_THROW, HOOK_SHIM, LOG_SHIM } from './isolate-shims.js';
import { PluginLoadError, lineOfImport, loadErrorFrom, type PluginSource } from './plugin-source.js';
import { HOOKS, type HookName, type PluginErrorKind } from './plugin-types.js';

export interface SandboxOptions {
  /** Heap limit of the isolate in MB (isolated-vm minimum 8). */
  memoryLimitMb: number;
  /** Wall time per hook call in ms. */
  timeoutMs: number;
  /** Wall time for the module's top level in ms. */
  loadTimeoutMs: number;
  /** The plugin's `options` from its config entry, as `ctx.config`. */
  config: unknown;
  /** Log lines a single call may emit before the rest are dropped inside the isolate. */
  logLinesPerCall: number;
  /** Receives each log line (level, text); called synchronously from inside a hook call. */
  onLog(level: 'info' | 'warn' | 'error', text: string): void;
  /** Lines the isolate dropped during one call (over logLinesPerCall). */
  onDropped(count: number): void;
  /** V8 lost control of the isolate (isolated-vm onCatastrophicError). */
  onCatastrophic(message: string): void;
}

/** A classified failure of one call. `cpuMs` (timeouts): CPU the call used, see `lastCallCpuMs`. */
export class SandboxFailure extends Error {
  constructor(readonly kind: PluginErrorKind, message: string, readonly cpuMs?: number) { super(message); }
}

const TIMED_OUT = 'Script execution timed out.';
const LEVELS = new Set(['info', 'warn', 'error']);

export class Sandbox {
  readonly hooks: readonly HookName[];
  #isolate: ivm.Isolate;
  #refs: Partial<Record<HookName, ivm.Reference>>;
  /** The same hooks, several calls per crossing (callMany). */
  #many: Partial<Record<HookName, ivm.Reference>>;
  #timeoutMs: number;
  /** The shared watchdog's word for this isolate (null: none free, every call uses `#timedOpts`). */
  #slot: WatchSlot | null;
  /** Options of a call the watchdog does not guard; a guarded call passes none (a timer per call costs ~12 µs, see call-watchdog.ts). */
  #timedOpts: { timeout: number };
  /** Isolate CPU ns before the last call, or -1n when the watchdog watched it. */
  #cpu0 = -1n;

  private constructor(isolate: ivm.Isolate, refs: Refs, many: Refs, timeoutMs: number) {
    this.#isolate = isolate;
    this.#refs = refs;
    this.#many = many;
    this.hooks = HOOKS.filter((h) => refs[h]);
    this.#timeoutMs = timeoutMs;
    this.#timedOpts = { timeout: timeoutMs };
    this.#slot = watchCalls(isolate, timeoutMs);
  }

  /** Builds a fresh isolate for `src`. Throws PluginLoadError (with file:line when known). */
  static create(src: PluginSource, opts: SandboxOptions): Sandbox {
    compileIsolatesInline();
    const isolate = new ivm.Isolate({ memoryLimit: opts.memoryLimitMb, onCatastrophicError: opts.onCatastrophic });
    try {
      const context = isolate.createContextSync();
      const log = new ivm.Callback((level: unknown, text: unknown) => {
        // The shim only sends strings, but the shim runs beside plugin code: check again here.
        if (typeof text !== 'string' || typeof level !== 'string') return;
        if (LEVELS.has(level)) opts.onLog(level as 'info' | 'warn' | 'error', text.slice(0, 2048));
        else if (level === 'dropped') opts.onDropped(Math.min(Number(text) || 0, 1e9));
      }, { sync: true });
      const takeDropped = context.evalClosureSync(LOG_SHIM, [log, opts.logLinesPerCall], { result: { reference: true } });
      const mod = compile(isolate, src);
      mod.instantiateSync(context, (specifier) => {
        throw new PluginLoadError(src.displayName, `imports are not allowed ("${specifier}"): a plugin is one self-contained file`, lineOfImport(src.code, specifier));
      });
      try {
        mod.evaluateSync({ timeout: opts.loadTimeoutMs });
      } catch (err) {
        if (isolate.isDisposed) throw new PluginLoadError(src.displayName, 'module top level ran out of memory');
        if ((err as Error)?.message === TIMED_OUT) throw new PluginLoadError(src.displayName, `module top level ran longer than ${opts.loadTimeoutMs}ms`);
        throw err;
      }
      const configCopy = new ivm.ExternalCopy(opts.config ?? {}).copyInto({ release: true });
      // a batch stops starting calls at half the limit of one call (see HOOK_SHIM)
      const bound = context.evalClosureSync(HOOK_SHIM, [mod.namespace.derefInto(), configCopy, takeDropped.derefInto(), log, opts.timeoutMs / 2],
        { result: { reference: true }, timeout: opts.loadTimeoutMs }) as ivm.Reference;
      const refs: Refs = {};
      const many: Refs = {};
      for (const hook of HOOKS) {
        const ref = bound.getSync(hook, { reference: true }) as ivm.Reference;
        if (ref.typeof !== 'function') continue;
        refs[hook] = ref;
        many[hook] = bound.getSync(`${hook}Many`, { reference: true }) as ivm.Reference;
      }
      if (Object.keys(refs).length === 0) {
        throw new PluginLoadError(src.displayName, 'exports none of onRequest, route, onResponse');
      }
      return new Sandbox(isolate, refs, many, opts.timeoutMs);
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      throw loadErrorFrom(src, err);
    }
  }

  get disposed(): boolean { return this.#isolate.isDisposed; }

  /** CPU time the isolate has used so far, in ns (0 once disposed). */
  get cpuTimeNs(): bigint { return this.#isolate.isDisposed ? 0n : this.#isolate.cpuTime; }

  has(hook: HookName): boolean { return this.#refs[hook] !== undefined; }

  /**
   * Calls `hook` with `args` encoded by request-wire.ts. Returns the raw result, parsed but not yet
   * validated, or throws SandboxFailure: timeout | oom | disposed | throw | malformed.
   */
  call(hook: HookName, args: string[]): unknown {
    const ref = this.#refs[hook];
    if (!ref) return undefined;
    const out = this.#apply(ref, args, hook);
    const result = typeof out === 'string' ? resultOf(hook, out) : new SandboxFailure('malformed', `${hook} answered ${typeof out}`);
    if (result instanceof SandboxFailure) throw result;
    return result;
  }

  /**
   * Several calls of `hook` in one crossing; `args` holds each call's arguments one after the other.
   * Returns one result per call made, in order: the parsed decision (undefined: none) or a
   * SandboxFailure (throw | malformed) of that call alone. Fewer results than calls means the batch
   * ran out of time (see HOOK_SHIM): the caller makes the rest again. Throws SandboxFailure when the
   * crossing as a whole failed (timeout, oom, disposed): which call was at fault is then unknown.
   */
  callMany(hook: HookName, args: string[], calls: number): unknown[] {
    const ref = this.#many[hook];
    if (!ref) return new Array(calls).fill(undefined);
    const out = this.#apply(ref, framed(args), `a batch of ${calls} ${hook} calls`);
    if (typeof out !== 'string') throw new SandboxFailure('malformed', `${hook} batch answered ${typeof out}`);
    const lines = out.split('\n');
    // More lines than calls: plugin code tampered with a built-in the shim uses (JSON.stringify…).
    if (lines.length > calls) throw new SandboxFailure('malformed', `${hook} batch answered ${lines.length} results for ${calls} calls`);
    return lines.map((line) => resultOf(hook, line));
  }

  /** One crossing, guarded by the watchdog or isolated-vm's timeout; failures classified as SandboxFailure. */
  #apply(ref: ivm.Reference, args: string[], what: string): unknown {
    // (No isDisposed check first: it is a native call, and a disposed isolate's call throws and is classified below.)
    const slot = this.#slot;
    const watched = slot !== null && slot.begin();
    // Only calls isolated-vm times (rare: before the watchdog runs) read the isolate's CPU clock here.
    this.#cpu0 = watched ? -1n : this.#isolate.cpuTime;
    let out: unknown;
    let error: unknown;
    let threw = false;
    try {
      out = watched ? ref.applySync(undefined, args) : ref.applySync(undefined, args, this.#timedOpts);
    } catch (err) {
      threw = true;
      error = err;
    }
    if (slot !== null && !slot.end()) {
      // The watchdog terminated the call (it may have returned just in time; it is over its limit all the same).
      const cpuMs = slot.cpuMsSinceBegin();
      this.dispose();
      throw new SandboxFailure('timeout', `${what} ran longer than ${this.#timeoutMs}ms`, cpuMs);
    }
    if (threw) {
      const message = String((error as Error)?.message ?? error);
      if (this.#isolate.isDisposed) {
        throw /memory limit/i.test(message)
          ? new SandboxFailure('oom', 'isolate ran out of memory and was disposed')
          : new SandboxFailure('disposed', `isolate was disposed: ${message}`);
      }
      if (message === TIMED_OUT) throw new SandboxFailure('timeout', `${what} ran longer than ${this.#timeoutMs}ms`, this.lastCallCpuMs());
      // The shim catches plugin throws and encodes the result: nothing known is left to land here.
      throw new SandboxFailure('malformed', `${what} failed: ${message}`);
    }
    return out;
  }

  /**
   * CPU ms the last call used: exact when isolated-vm timed it; for a watched call the host
   * thread's CPU since shortly before it began (at least what it used, at most a quarter of the
   * limit more). Asked only about slow calls: it costs a system call.
   */
  lastCallCpuMs(): number {
    if (this.#cpu0 >= 0n) return this.#isolate.isDisposed ? 0 : Number(this.#isolate.cpuTime - this.#cpu0) / 1e6;
    return this.#slot?.cpuMsSinceBegin() ?? 0;
  }

  /** Bytes of V8 heap plus external memory counted against the limit (0 once disposed). */
  heapBytes(): number {
    if (this.#isolate.isDisposed) return 0;
    try {
      const s = this.#isolate.getHeapStatisticsSync();
      return s.used_heap_size + s.externally_allocated_size;
    } catch {
      return 0;
    }
  }

  dispose(): void {
    this.#slot?.release();
    this.#slot = null;
    // The watchdog may be disposing it at the same moment.
    try { if (!this.#isolate.isDisposed) this.#isolate.dispose(); } catch { /* already disposed */ }
  }
}

type Refs = Partial<Record<HookName, ivm.Reference>>;

/**
 * isolated-vm makes a string of 1 KiB or more an external string in the isolate, and every such
 * copy then costs a heap-statistics walk and a finalizer; below that it is one plain copy.
 */
const CHUNK_CHARS = 1000;

/**
 * The views of a batch as few strings as possible, each under CHUNK_CHARS where the views allow:
 * "len,len,…,;" then those views back to back (length framing, as any character may occur in a
 * view). HOOK_SHIM's `…Many` wrappers read the chunks in order.
 */
function framed(views: readonly string[]): string[] {
  const chunks: string[] = [];
  let head = '';
  let body = '';
  for (const v of views) {
    if (head !== '' && head.length + body.length + v.length + 8 > CHUNK_CHARS) {
      chunks.push(head + ';' + body);
      head = '';
      body = '';
    }
    head += `${v.length},`;
    body += v;
  }
  chunks.push(head + ';' + body);
  return chunks;
}

/** One call's line of an answer (HOOK_SHIM): the decision, or the call's own failure as a value. */
function resultOf(hook: HookName, line: string): unknown {
  if (line === '') return undefined;
  if (line.charCodeAt(0) !== 0) {
    try { return JSON.parse(line); } catch { return new SandboxFailure('malformed', `${hook} returned something that is not plain data`); }
  }
  const kind = line.startsWith(FAILED_THROW) ? 'throw' : 'malformed';
  let message: string;
  try { message = String(JSON.parse(line.slice(kind === 'throw' ? FAILED_THROW.length : FAILED_MALFORMED.length))); } catch { message = 'unknown failure'; }
  return new SandboxFailure(kind, message);
}

function compile(isolate: ivm.Isolate, src: PluginSource): ivm.Module {
  const mod = isolate.compileModuleSync(src.code, { filename: src.displayName });
  const first = mod.dependencySpecifiers[0];
  if (first !== undefined) {
    throw new PluginLoadError(src.displayName, `imports are not allowed ("${first}"): a plugin is one self-contained file`, lineOfImport(src.code, first));
  }
  return mod;
}
