/**
 * One loaded plugin: its current version (source + sandbox), calls one at a time or in batches
 * (which calls form a batch is call-batcher.ts), per-call limits, decision validation, failure
 * accounting, rebuild after termination, quarantine, reload and stats. Settings and defaults are
 * in plugin-options.ts. Every hook call returns a CallResult; nothing here throws to the request path.
 */
import { performance } from 'node:perf_hooks';
import { CallQueue, type BatchedCall, type CallReceiver } from './call-batcher.js';
import { validateDecision } from './decision-validate.js';
import { LogLimiter } from './log-limiter.js';
import { sandboxOptions, withDefaults, type FullOptions, type PluginOptions } from './plugin-options.js';
import { Sandbox, SandboxFailure } from './plugin-sandbox.js';
import { PluginLoadError, readPluginSource, type PluginSource } from './plugin-source.js';
import type {
  CallResult, DecisionFor, HookName, OnError, PluginErrorKind,
  PluginState, PluginStats, RequestDecision, RequestView, ResponseDecision, ResponseView, RouteDecision, RouteTargets,
} from './plugin-types.js';
import { HOOKS } from './plugin-types.js';
import { SMOKE_REQUEST, SMOKE_RESPONSE } from './request-view.js';
import { encodeRequestView, encodeResponseView } from './request-wire.js';

const TERMINATIONS: ReadonlySet<PluginErrorKind> = new Set(['timeout', 'oom', 'disposed']);
const emptyCalls = (): PluginStats['calls'] => ({ onRequest: {}, route: {}, onResponse: {} });
const NO_DECISION = Object.freeze({ ok: true, decision: null }) as CallResult<never>;
const wire = (req: RequestView | string): string => (typeof req === 'string' ? req : encodeRequestView(req));
export class Plugin {
  readonly name: string;
  readonly file: string;
  #opts: FullOptions;
  #source: PluginSource;
  #sandbox: Sandbox | null;
  #state: PluginState = 'active';
  #failures: number[] = [];
  #log: LogLimiter;
  #cpuSeen = 0n;
  /** Wall ns of the calls since #cpuSeen was taken: their CPU is at most that. */
  #callWallNs = 0;
  #cpuLimitNs: bigint;
  #watchdog: NodeJS.Timeout | undefined;
  #loadedAt = new Date();
  #hooks: readonly HookName[];
  #stats = { calls: emptyCalls(), errors: 0, terminations: 0, rebuilds: 0, reloads: 0, crossings: 0, lastError: null as PluginStats['lastError'] };
  /** Successful calls per hook (stats().calls[hook].ok); the other outcomes are counted in #stats.calls. */
  #okCalls: Record<HookName, number> = { onRequest: 0, route: 0, onResponse: 0 };
  /** Calls waiting for this turn's batch (call-batcher.ts). */
  #queue = new CallQueue({
    makeBatch: (hook, calls) => this.#callMany(hook, calls),
    internalFailure: (hook, err) => {
      this.#opts.logger.error({ plugin: this.name, hook, err: String((err as Error)?.stack ?? err) }, 'plugin batch failed unexpectedly');
      return { ok: false, error: { kind: 'disposed', message: 'internal error' }, onError: this.onErrorFor(hook) };
    },
    receiverThrew: (err) => {
      this.#opts.logger.error({ plugin: this.name, err: String((err as Error)?.stack ?? err) }, 'plugin result callback threw');
    },
  });
  #closed = false;

  private constructor(opts: PluginOptions, source: PluginSource, sandbox: Sandbox, log: LogLimiter) {
    this.name = opts.name;
    this.file = opts.file;
    this.#opts = withDefaults(opts);
    this.#source = source;
    this.#sandbox = sandbox;
    this.#hooks = sandbox.hooks;
    this.#log = log;
    this.#cpuLimitNs = BigInt(Math.round(this.#opts.cpuLimitMs * 1e6));
    this.#cpuSeen = sandbox.cpuTimeNs;
    if (this.#opts.watchdogIntervalMs > 0) {
      this.#watchdog = setInterval(() => this.#idleWatchdog(), this.#opts.watchdogIntervalMs).unref();
    }
  }

  /** Reads, compiles and smoke-tests the file. Throws PluginLoadError (file:line: message). */
  static load(opts: PluginOptions): Plugin {
    const full = withDefaults(opts);
    const source = readPluginSource(opts.file);
    const log = new LogLimiter(opts.name, full.logger, full.logLinesPerSecond);
    return new Plugin(opts, source, prepare(source, full, log), log);
  }

  get version(): string { return this.#source.version; }
  get state(): PluginState { return this.#state; }
  /** The hooks the current version exports (kept while its isolate is down or quarantined). */
  get hooks(): readonly HookName[] { return this.#hooks; }
  has(hook: HookName): boolean { return this.#hooks.includes(hook); }

  /** The policy the caller applies when a call of `hook` fails. */
  onErrorFor(hook: HookName): OnError {
    return this.#opts.onError ?? (hook === 'route' ? 'fail_open' : 'fail_closed');
  }

  /** `req` may be given already encoded (request-wire.ts): a caller with several plugins encodes once. */
  onRequest(req: RequestView | string): CallResult<RequestDecision> {
    return this.#call('onRequest', [wire(req)]);
  }

  /** `targets` restricts `{pool}` / `{upstream}` to configured ones; omit only in the harness. */
  route(req: RequestView | string, targets?: RouteTargets): CallResult<RouteDecision> {
    return this.#call('route', [wire(req)], targets);
  }

  onResponse(res: ResponseView, req: RequestView | string): CallResult<ResponseDecision> {
    return this.#call('onResponse', [encodeResponseView(res), wire(req)]);
  }

  /**
   * The same calls, made later in this turn of the event loop together with the others queued
   * (one crossing for all, see call-batcher.ts); `receiver` gets the result, never a throw.
   * `args` as for the direct calls: the request's encoding, and for onResponse the response's first.
   */
  enqueue<H extends HookName>(hook: H, args: string[], receiver: CallReceiver<DecisionFor[H]>, targets?: RouteTargets): void {
    this.#queue.enqueue(hook, args, receiver as CallReceiver<never>, targets);
  }

  /**
   * Re-reads the file, builds the new version in a fresh isolate, smoke-tests it and swaps it in.
   * On failure the old version keeps serving. A successful reload lifts a quarantine.
   * `ifChanged`: an unchanged file of an active plugin keeps its isolate (and module state).
   */
  reload(opts: { ifChanged?: boolean } = {}): { ok: true; version: string; changed: boolean } | { ok: false; error: PluginLoadError } {
    let source: PluginSource;
    let sandbox: Sandbox;
    try {
      source = readPluginSource(this.file);
      if (opts.ifChanged && source.version === this.#source.version && this.#state === 'active' && this.#sandbox) {
        return { ok: true, version: source.version, changed: false };
      }
      sandbox = prepare(source, this.#opts, this.#log);
    } catch (err) {
      const error = err instanceof PluginLoadError ? err : new PluginLoadError(this.#source.displayName, String(err));
      this.#opts.logger.error({ plugin: this.name, err: error.message }, 'plugin reload failed; old version keeps serving');
      return { ok: false, error };
    }
    const changed = source.version !== this.#source.version;
    const old = this.#sandbox;
    this.#source = source;
    this.#sandbox = sandbox;
    this.#hooks = sandbox.hooks;
    this.#cpuSeen = sandbox.cpuTimeNs;
    this.#callWallNs = 0;
    this.#failures = [];
    this.#stats.reloads++;
    this.#loadedAt = new Date();
    old?.dispose();
    this.#setState('active');
    this.#opts.logger.info({ plugin: this.name, version: source.version, changed }, 'plugin reloaded');
    return { ok: true, version: source.version, changed };
  }

  stats(): PluginStats {
    const s = this.#stats;
    return {
      name: this.name, file: this.#source.displayName, version: this.version, state: this.#state,
      hooks: [...this.hooks], onError: this.#opts.onError ?? 'default',
      calls: this.#callCounts(), errors: s.errors, terminations: s.terminations, rebuilds: s.rebuilds,
      reloads: s.reloads, heapBytes: this.#sandbox?.heapBytes() ?? 0, logsDropped: this.#log.dropped, crossings: s.crossings,
      lastError: s.lastError, loadedAt: this.#loadedAt.toISOString(),
    };
  }

  #callCounts(): PluginStats['calls'] {
    const calls = structuredClone(this.#stats.calls);
    for (const hook of HOOKS) {
      if (this.#okCalls[hook] > 0) calls[hook].ok = this.#okCalls[hook];
    }
    return calls;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#watchdog);
    this.#sandbox?.dispose();
    this.#sandbox = null;
  }

  #call<H extends HookName>(hook: H, args: string[], targets?: RouteTargets): CallResult<DecisionFor[H]> {
    const t0 = performance.now();
    const refused = this.#refusal(hook, t0);
    if (refused) return refused;
    const sandbox = this.#sandbox ?? this.#rebuild();
    if (!sandbox) return this.#failed(hook, t0, 'disposed', 'isolate could not be rebuilt');
    if (!sandbox.has(hook)) return this.#ok(hook, performance.now() - t0, NO_DECISION);
    let raw: unknown;
    let t1: number;
    try {
      this.#stats.crossings++;
      raw = sandbox.call(hook, args);
      t1 = performance.now();
      const cpuMs = this.#cpuOverLimit(sandbox, t1 - t0);
      if (cpuMs !== undefined) return this.#failed(hook, t0, 'timeout', `${hook} used ${cpuMs}ms CPU (limit ${this.#opts.cpuLimitMs}ms)`);
    } catch (err) {
      const f = err instanceof SandboxFailure ? err : new SandboxFailure('disposed', String(err));
      if (f.kind === 'timeout') {
        // A wall-time timeout with little CPU used means the host (load, scheduling) ate the time:
        // the call still failed, but it is not held against the plugin for quarantine.
        const cpuMs = f.cpuMs ?? this.#opts.timeoutMs;
        if (cpuMs < this.#opts.timeoutMs / 2) {
          return this.#failed(hook, t0, 'timeout', `${f.message} (host stall: the plugin used ${cpuMs.toFixed(1)}ms CPU)`, false);
        }
      }
      return this.#failed(hook, t0, f.kind, f.message);
    }
    return this.#outcome(hook, raw, targets, t0, t1 - t0);
  }

  /** A call that is not made at all: the plugin is quarantined or unloaded. */
  #refusal<H extends HookName>(hook: H, t0: number): CallResult<DecisionFor[H]> | undefined {
    if (this.#state === 'quarantined') return this.#done(hook, t0, 'quarantined', `plugin ${this.name} is quarantined until reload`);
    if (this.#closed) return this.#done(hook, t0, 'disposed', `plugin ${this.name} was unloaded`);
    return undefined;
  }

  /** What the isolate answered (a value, or a SandboxFailure of this call alone), validated and counted. */
  #outcome<H extends HookName>(hook: H, raw: unknown, targets: RouteTargets | undefined, t0: number, ms: number): CallResult<DecisionFor[H]> {
    if (raw === undefined || raw === null) return this.#ok(hook, ms, NO_DECISION);
    if (raw instanceof SandboxFailure) return this.#failed(hook, t0, raw.kind, raw.message);
    const v = validateDecision(hook, raw, targets);
    return v.ok ? this.#ok(hook, ms, { ok: true, decision: v.decision }) : this.#failed(hook, t0, 'malformed', v.message);
  }

  /**
   * One crossing for `calls` (a single call takes the direct path); results in order, fewer when
   * the batch ran out of time (the queue makes the rest in another crossing). When the crossing
   * fails as a whole (a call ran away, memory ran out) nobody knows which call did it: the isolate
   * is rebuilt without blaming the plugin, and each call is made again alone, where the one at
   * fault fails (and is blamed) on its own.
   */
  #callMany(hook: HookName, calls: readonly BatchedCall[]): CallResult<unknown>[] {
    const alone = () => calls.map((c) => this.#call(hook, c.args, c.targets));
    if (calls.length === 1) return alone();
    const t0 = performance.now();
    // A quarantined or unloaded plugin: each call is refused (and counted) alone.
    const sandbox = this.#state === 'quarantined' || this.#closed ? null : this.#sandbox ?? this.#rebuild();
    if (!sandbox || !sandbox.has(hook)) return alone();
    const args: string[] = [];
    for (const c of calls) for (const a of c.args) args.push(a);
    let results: unknown[];
    try {
      this.#stats.crossings++;
      results = sandbox.callMany(hook, args, calls.length);
      const cpuMs = this.#cpuOverLimit(sandbox, performance.now() - t0);
      if (cpuMs !== undefined) throw new SandboxFailure('timeout', `a batch of ${hook} calls used ${cpuMs}ms CPU (limit ${this.#opts.cpuLimitMs}ms)`);
    } catch (err) {
      const f = err instanceof SandboxFailure ? err : new SandboxFailure('disposed', String(err));
      this.#stats.errors++;
      this.#opts.logger.warn({ plugin: this.name, hook, kind: f.kind, calls: calls.length, err: f.message }, 'plugin batch failed; each call is made again alone');
      if (TERMINATIONS.has(f.kind)) this.#terminated(f.kind, f.message, false);
      return alone();
    }
    // The crossing's time, shared out: what a call's own duration would have been is not measured.
    const ms = (performance.now() - t0) / results.length;
    return results.map((raw, i) => this.#outcome(hook, raw, calls[i]!.targets, t0, ms));
  }

  /**
   * The CPU the last crossing used, when that is over the limit (work that escaped the time limit).
   * A crossing runs on this thread, so only one whose wall time outlasted the limit can be: the
   * others skip the CPU clock.
   */
  #cpuOverLimit(sandbox: Sandbox, wallMs: number): number | undefined {
    if (wallMs <= this.#opts.cpuLimitMs) return undefined;
    const cpuMs = sandbox.lastCallCpuMs();
    return cpuMs > this.#opts.cpuLimitMs ? cpuMs : undefined;
  }

  /** The common case, kept short: count, observe, return. */
  #ok<H extends HookName>(hook: H, ms: number, result: CallResult<DecisionFor[H]>): CallResult<DecisionFor[H]> {
    this.#callWallNs += ms * 1e6;
    this.#okCalls[hook]++;
    this.#opts.observer?.onCall?.({ plugin: this.name, hook, outcome: 'ok', seconds: ms / 1000 });
    return result;
  }

  #failed<H extends HookName>(hook: H, t0: number, kind: PluginErrorKind, message: string, blame = true): CallResult<DecisionFor[H]> {
    this.#stats.errors++;
    this.#stats.lastError = { kind, message, at: new Date().toISOString() };
    this.#opts.logger.warn({ plugin: this.name, hook, kind, err: message }, 'plugin call failed');
    if (TERMINATIONS.has(kind)) this.#terminated(kind, message, blame);
    return this.#done(hook, t0, kind, message);
  }

  /** A call that did not succeed: counted by outcome and observed like a successful one. */
  #done<H extends HookName>(hook: H, t0: number, outcome: PluginErrorKind, message: string): CallResult<DecisionFor[H]> {
    const seconds = (performance.now() - t0) / 1000;
    this.#callWallNs += seconds * 1e9;
    const byOutcome = this.#stats.calls[hook];
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
    this.#opts.observer?.onCall?.({ plugin: this.name, hook, outcome, seconds });
    return { ok: false, error: { kind: outcome, message }, onError: this.onErrorFor(hook) };
  }

  /** The isolate is gone or untrustworthy: count it, quarantine on too many, else rebuild now. */
  #terminated(kind: PluginErrorKind, message: string, blame = true): void {
    this.#stats.terminations++;
    this.#opts.observer?.onTermination?.({ plugin: this.name, kind, message });
    this.#sandbox?.dispose();
    this.#sandbox = null;
    if (!blame) { this.#rebuild(); return; }
    const now = Date.now();
    const { failures, windowMs } = this.#opts.quarantine;
    this.#failures = this.#failures.filter((t) => now - t < windowMs);
    this.#failures.push(now);
    if (this.#failures.length >= failures) {
      this.#opts.logger.error({ plugin: this.name, failures: this.#failures.length, windowMs }, 'plugin quarantined until reload');
      this.#setState('quarantined');
      return;
    }
    // Rebuild eagerly so the next (innocent) request does not pay for it.
    this.#rebuild();
  }

  #rebuild(): Sandbox | null {
    try {
      this.#sandbox = Sandbox.create(this.#source, sandboxOptions(this.#opts, this.#log));
      this.#cpuSeen = this.#sandbox.cpuTimeNs;
      this.#callWallNs = 0;
      this.#stats.rebuilds++;
    } catch (err) {
      this.#opts.logger.error({ plugin: this.name, err: String((err as Error)?.message ?? err) }, 'plugin isolate rebuild failed');
      this.#sandbox = null;
    }
    return this.#sandbox;
  }

  /**
   * Between calls an isolate should use no CPU at all; if it does, something escaped. The CPU of
   * the calls since the last look is at most their wall time, so what is left over is a lower
   * bound of the CPU used outside them (no isolate clock is read per call: ~1 µs in a busy proxy).
   */
  #idleWatchdog(): void {
    const sb = this.#sandbox;
    if (!sb || sb.disposed) return;
    const cpu = sb.cpuTimeNs;
    const outside = Number(cpu - this.#cpuSeen) - this.#callWallNs;
    this.#cpuSeen = cpu;
    this.#callWallNs = 0;
    if (outside > Number(this.#cpuLimitNs)) {
      this.#stats.errors++;
      this.#terminated('timeout', `isolate used ${outside / 1e6}ms CPU outside any call`);
    }
  }

  #setState(state: PluginState): void {
    if (state === 'quarantined') { this.#sandbox?.dispose(); this.#sandbox = null; }
    if (this.#state === state) return;
    this.#state = state;
    this.#opts.observer?.onStateChange?.({ plugin: this.name, state, version: this.version });
  }
}

/** Compile + smoke call of every exported hook on a synthetic request; any failure rejects the version. */
function prepare(source: PluginSource, o: FullOptions, log: LogLimiter): Sandbox {
  const sandbox = Sandbox.create(source, sandboxOptions(o, log));
  const req = encodeRequestView(SMOKE_REQUEST);
  const smoke: [HookName, string[]][] = [['onRequest', [req]], ['route', [req]], ['onResponse', [encodeResponseView(SMOKE_RESPONSE), req]]];
  for (const [hook, args] of smoke) {
    if (!sandbox.has(hook)) continue;
    try {
      const v = validateDecision(hook, sandbox.call(hook, args));
      if (!v.ok) throw new SandboxFailure('malformed', v.message);
    } catch (err) {
      sandbox.dispose();
      const f = err as SandboxFailure;
      throw new PluginLoadError(source.displayName, `smoke call of ${hook} failed (${f.kind ?? 'error'}): ${f.message}`);
    }
  }
  return sandbox;
}
