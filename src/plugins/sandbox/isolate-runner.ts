/**
 * Runs inside a plugin process: one isolate for one plugin module. Compiles it (imports refused),
 * evaluates its top level, binds its hooks through the shim, and makes hook calls one at a time.
 * Each call is bounded by the wall-time backstop (isolated-vm's `timeout`) and then checked
 * against the CPU limit on the isolate's own CPU clock. A call that went over either, or ran the
 * heap out, leaves the isolate untrusted: it is disposed and built again before the next call.
 * The first call of each hook in an isolate compiles it, so it has the load-time limit instead.
 */
import { readFileSync } from 'node:fs';
import ivm from 'isolated-vm';
import { HOOKS, type HookName } from '../plugin-types.js';
import type { AnswerKind, SandboxSettings } from './protocol.js';

/** The shim's function expression (as written, or as tsc emitted it: with a `;` and a source map line after it). */
const SHIM = ((text: string) => text.slice(text.indexOf('(function install'), text.lastIndexOf('})') + 2))(
  readFileSync(new URL('./isolate-shim.js', import.meta.url), 'utf8'));
const TIMED_OUT = 'Script execution timed out.';
const LEVELS = new Set(['info', 'warn', 'error']);

/** A module that does not load, with the position when V8 gave one. */
export class LoadFailure extends Error {
  constructor(message: string, readonly line?: number, readonly column?: number) { super(message); }
}

export interface LogSink {
  line(level: 'info' | 'warn' | 'error', text: string): void;
  dropped(count: number): void;
}

export class IsolateRunner {
  hooks: readonly HookName[] = [];
  #isolate: ivm.Isolate | null = null;
  #fns: Partial<Record<HookName, ivm.Reference>> = {};
  /** Hooks called at least once in this isolate. */
  #warm = new Set<HookName>();

  constructor(
    private readonly code: string,
    private readonly file: string,
    private readonly settings: SandboxSettings,
    private readonly log: LogSink,
  ) {}

  /** Builds the isolate. Throws LoadFailure. */
  load(): void {
    const s = this.settings;
    const isolate = new ivm.Isolate({ memoryLimit: s.memoryLimitMb });
    try {
      const context = isolate.createContextSync();
      const emit = new ivm.Callback((level: unknown, text: unknown) => {
        // The shim sends strings, but it runs beside plugin code: check again here.
        if (typeof level !== 'string' || typeof text !== 'string') return;
        if (LEVELS.has(level)) this.log.line(level as 'info', text.slice(0, 2048));
        else if (level === 'dropped') this.log.dropped(Math.min(Number(text) || 0, 1e9));
      }, { sync: true });
      const shim = context.evalClosureSync(`return (${SHIM})($0, $1, $2)`, [emit, s.logLinesPerCall, s.maxResultChars],
        { result: { reference: true } }) as ivm.Reference;
      const mod = isolate.compileModuleSync(this.code, { filename: this.file });
      const imported = mod.dependencySpecifiers[0];
      if (imported !== undefined) throw new LoadFailure(`imports are not allowed ("${imported}"): a plugin is one self-contained file`, lineOf(this.code, imported));
      mod.instantiateSync(context, () => { throw new LoadFailure('imports are not allowed'); });
      try {
        mod.evaluateSync({ timeout: s.loadTimeoutMs });
      } catch (err) {
        if (isolate.isDisposed) throw new LoadFailure('module top level ran out of memory');
        if ((err as Error)?.message === TIMED_OUT) throw new LoadFailure(`module top level ran longer than ${s.loadTimeoutMs}ms`);
        throw err;
      }
      const config = new ivm.ExternalCopy(s.config ?? {}).copyInto({ release: true });
      const bind = shim.getSync('bind', { reference: true }) as ivm.Reference;
      const bound = bind.applySync(undefined, [mod.namespace.derefInto(), config], { result: { reference: true }, timeout: s.loadTimeoutMs }) as ivm.Reference;
      const fns: Partial<Record<HookName, ivm.Reference>> = {};
      for (const hook of HOOKS) {
        const ref = bound.getSync(hook, { reference: true }) as ivm.Reference;
        if (ref.typeof === 'function') fns[hook] = ref;
      }
      if (Object.keys(fns).length === 0) throw new LoadFailure('exports none of onRequest, route, onResponse');
      this.#isolate = isolate;
      this.#fns = fns;
      this.#warm.clear();
      this.hooks = HOOKS.filter((h) => fns[h]);
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      throw asLoadFailure(err, this.file);
    }
  }

  /** One hook call with its views as JSON strings. Never throws. */
  call(hook: HookName, views: string[]): { kind: AnswerKind; value: unknown } {
    if (this.#isolate === null) {
      // the last call left the isolate untrusted: a fresh one runs the module's top level again
      try { this.load(); } catch (err) { return { kind: 'crashed', value: `isolate could not be rebuilt: ${(err as Error).message}` }; }
    }
    const isolate = this.#isolate!;
    const fn = this.#fns[hook];
    if (fn === undefined) return { kind: 'ok', value: null };
    const s = this.settings;
    const first = !this.#warm.has(hook);
    this.#warm.add(hook);
    const wallMs = first ? Math.max(s.timeoutMs, s.loadTimeoutMs) : s.timeoutMs;
    const cpuLimitMs = first ? Math.max(s.cpuLimitMs, s.loadTimeoutMs) : s.cpuLimitMs;
    const cpu0 = isolate.cpuTime;
    let out: unknown;
    try {
      out = fn.applySync(undefined, views, { timeout: wallMs });
    } catch (err) {
      const message = String((err as Error)?.message ?? err);
      const kind: AnswerKind = isolate.isDisposed && /memory/i.test(message) ? 'oom' : message === TIMED_OUT ? 'timeout' : 'crashed';
      this.dispose();
      if (kind === 'oom') return { kind, value: `isolate ran out of memory (limit ${s.memoryLimitMb}MB)` };
      if (kind === 'timeout') return { kind, value: `${hook} ran longer than ${wallMs}ms` };
      return { kind, value: `isolate failed: ${message}` };
    }
    const cpuMs = Number(isolate.cpuTime - cpu0) / 1e6;
    if (cpuMs > cpuLimitMs) {
      this.dispose();
      return { kind: 'timeout', value: `${hook} used ${cpuMs.toFixed(1)}ms of CPU (limit ${cpuLimitMs}ms)` };
    }
    return answerOf(out);
  }

  heapBytes(): number {
    const isolate = this.#isolate;
    if (isolate === null || isolate.isDisposed) return 0;
    try {
      const h = isolate.getHeapStatisticsSync();
      return h.used_heap_size + h.externally_allocated_size;
    } catch { return 0; }
  }

  dispose(): void {
    const isolate = this.#isolate;
    this.#isolate = null;
    this.#fns = {};
    try { if (isolate && !isolate.isDisposed) isolate.dispose(); } catch { /* already gone */ }
  }
}

/** The shim's answer string (see isolate-shim.js) as a kind and a value. */
function answerOf(out: unknown): { kind: AnswerKind; value: unknown } {
  if (typeof out !== 'string') return { kind: 'malformed', value: `hook answered ${typeof out}` };
  if (out === '') return { kind: 'ok', value: null };
  if (out.charCodeAt(0) !== 0) {
    try { return { kind: 'ok', value: JSON.parse(out) }; } catch { return { kind: 'malformed', value: 'result is not plain data' }; }
  }
  const kind = out.startsWith('\u0000throw') ? 'throw' : 'malformed';
  let message: string;
  try { message = String(JSON.parse(out.slice(kind.length + 1))); } catch { message = 'unknown failure'; }
  return { kind, value: message };
}

/** The position V8 gives, as `[file:line:col]` at the end of a syntax error or in the first stack frame. */
function asLoadFailure(err: unknown, file: string): LoadFailure {
  if (err instanceof LoadFailure) return err;
  const e = err as { name?: string; message?: string; stack?: string } | undefined;
  const message = String(e?.message ?? err);
  const name = e?.name && e.name !== 'Error' ? `${e.name}: ` : '';
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const bracket = new RegExp(`\\s*\\[${escaped}:(\\d+):(\\d+)\\]$`).exec(message);
  if (bracket) return new LoadFailure(name + message.slice(0, bracket.index), Number(bracket[1]), Number(bracket[2]));
  const frame = new RegExp(`${escaped}:(\\d+):(\\d+)`).exec(e?.stack ?? '');
  return new LoadFailure(name + message, frame ? Number(frame[1]) : undefined, frame ? Number(frame[2]) : undefined);
}

/** 1-based line of the first `import`/`from` naming `specifier`. */
function lineOf(code: string, specifier: string): number | undefined {
  const i = code.split('\n').findIndex((l) => /\b(import|from)\b/.test(l) && l.includes(specifier));
  return i >= 0 ? i + 1 : undefined;
}
