/**
 * One loaded plugin: its current version (source + plugin process), hook calls, decision
 * validation, failure accounting, restart after a termination, quarantine, reload and stats.
 * Every hook call resolves to a CallResult; nothing here throws to the request path.
 */
import { validateDecision } from './decision-validate.js';
import { LogLimiter } from './log-limiter.js';
import { sandboxSettings, withDefaults, type FullOptions, type PluginOptions } from './plugin-options.js';
import { PluginLoadError, readPluginSource, type PluginSource } from './plugin-source.js';
import type {
  CallResult, DecisionFor, HookName, OnError, PluginErrorKind, PluginState, PluginStats,
  RequestDecision, RequestView, ResponseDecision, ResponseView, RouteDecision, RouteTargets,
} from './plugin-types.js';
import { HOOKS } from './plugin-types.js';
import { SMOKE_REQUEST, SMOKE_RESPONSE } from './plugin-view.js';
import { SandboxClient, SandboxLoadError, type Answer } from './sandbox-client.js';

/** Outcomes after which the plugin's isolate or process was replaced: they count towards quarantine. */
const TERMINATIONS: ReadonlySet<PluginErrorKind> = new Set(['timeout', 'oom', 'crashed']);
const emptyCalls = (): PluginStats['calls'] => ({ onRequest: {}, route: {}, onResponse: {} });

export class Plugin {
  readonly name: string;
  readonly file: string;
  #opts: FullOptions;
  #source: PluginSource;
  /** The running process; null while it restarts, after quarantine or close. */
  #client: SandboxClient | null;
  #restarting: Promise<SandboxClient | null> | null = null;
  #state: PluginState = 'active';
  #failures: number[] = [];
  #log: LogLimiter;
  #loadedAt = new Date();
  #hooks: readonly HookName[];
  #stats = { calls: emptyCalls(), errors: 0, terminations: 0, restarts: 0, reloads: 0, lastError: null as PluginStats['lastError'] };
  #closed = false;

  private constructor(opts: FullOptions, source: PluginSource, log: LogLimiter) {
    this.name = opts.name;
    this.file = opts.file;
    this.#opts = opts;
    this.#source = source;
    this.#log = log;
    this.#client = null;
    this.#hooks = [];
  }

  /** Reads the file, starts its process, loads and smoke-tests it. Rejects PluginLoadError (file:line: message). */
  static async load(opts: PluginOptions): Promise<Plugin> {
    const full = withDefaults(opts);
    const source = readPluginSource(opts.file);
    const plugin = new Plugin(full, source, new LogLimiter(opts.name, full.logger, full.logLinesPerSecond));
    const client = await plugin.#start(source, true);
    plugin.#client = client;
    plugin.#hooks = client.hooks;
    return plugin;
  }

  get version(): string { return this.#source.version; }
  get state(): PluginState { return this.#state; }
  /** The hooks the current version exports. */
  get hooks(): readonly HookName[] { return this.#hooks; }
  has(hook: HookName): boolean { return this.#hooks.includes(hook); }

  /** The policy the caller applies when a call of `hook` fails. */
  onErrorFor(hook: HookName): OnError {
    return this.#opts.onError ?? (hook === 'route' ? 'fail_open' : 'fail_closed');
  }

  onRequest(req: RequestView): Promise<CallResult<RequestDecision>> {
    return this.call('onRequest', [req]);
  }

  /** `targets` restricts `{pool}` / `{upstream}` to configured ones; omit only in the harness. */
  route(req: RequestView, targets?: RouteTargets): Promise<CallResult<RouteDecision>> {
    return this.call('route', [req], targets);
  }

  onResponse(res: ResponseView, req: RequestView): Promise<CallResult<ResponseDecision>> {
    return this.call('onResponse', [res, req]);
  }

  /** A hook call: `views` is [request], or [response, request] for onResponse. */
  call<H extends HookName>(hook: H, views: unknown[], targets?: RouteTargets): Promise<CallResult<DecisionFor[H]>> {
    const t0 = performance.now();
    if (this.#state === 'quarantined') return Promise.resolve(this.#done(hook, t0, 'quarantined', `plugin ${this.name} is quarantined until reload`));
    if (this.#closed) return Promise.resolve(this.#done(hook, t0, 'disposed', `plugin ${this.name} was unloaded`));
    if (!this.has(hook)) return Promise.resolve(this.#ok(hook, t0, null));
    const client = this.#client;
    if (client !== null && !client.ended) {
      return new Promise((resolve) => client.call(hook, views, (a) => resolve(this.#outcome(hook, a, targets, t0))));
    }
    return this.#callAfterRestart(hook, views, targets, t0);
  }

  async #callAfterRestart<H extends HookName>(hook: H, views: unknown[], targets: RouteTargets | undefined, t0: number): Promise<CallResult<DecisionFor[H]>> {
    const client = await this.#restart();
    if (client === null) {
      if (this.#state === 'quarantined') return this.#done(hook, t0, 'quarantined', `plugin ${this.name} is quarantined until reload`);
      return this.#failed(hook, t0, 'crashed', 'the plugin process could not be restarted', false);
    }
    return new Promise((resolve) => client.call(hook, views, (a) => resolve(this.#outcome(hook, a, targets, t0))));
  }

  /**
   * Re-reads the file, starts the new version in a new process, smoke-tests it and swaps it in.
   * On failure the old version keeps serving. A successful reload lifts a quarantine.
   * `ifChanged`: an unchanged file of an active plugin keeps its process (and module state).
   */
  async reload(opts: { ifChanged?: boolean } = {}): Promise<{ ok: true; version: string; changed: boolean } | { ok: false; error: PluginLoadError }> {
    let source: PluginSource;
    let client: SandboxClient;
    try {
      source = readPluginSource(this.file);
      if (opts.ifChanged && source.version === this.#source.version && this.#state === 'active' && this.#client) {
        return { ok: true, version: source.version, changed: false };
      }
      client = await this.#start(source, true);
    } catch (err) {
      const error = err instanceof PluginLoadError ? err : new PluginLoadError(this.#source.displayName, String(err));
      this.#opts.logger.error({ plugin: this.name, err: error.message }, 'plugin reload failed; old version keeps serving');
      return { ok: false, error };
    }
    if (this.#closed) { client.close(); return { ok: false, error: new PluginLoadError(this.#source.displayName, 'plugin was unloaded') }; }
    const changed = source.version !== this.#source.version;
    // calls already sent to the old process are answered by it
    this.#client?.closeWhenIdle();
    this.#source = source;
    this.#client = client;
    this.#hooks = client.hooks;
    this.#failures = [];
    this.#stats.reloads++;
    this.#loadedAt = new Date();
    this.#setState('active');
    this.#opts.logger.info({ plugin: this.name, version: source.version, changed }, 'plugin reloaded');
    return { ok: true, version: source.version, changed };
  }

  stats(): PluginStats {
    const s = this.#stats;
    return {
      name: this.name, file: this.#source.displayName, version: this.version, state: this.#state,
      hooks: [...this.hooks], onError: this.#opts.onError ?? 'default',
      calls: structuredClone(s.calls), errors: s.errors, terminations: s.terminations, restarts: s.restarts,
      reloads: s.reloads, heapBytes: this.#client?.heapBytes ?? 0, pid: this.#client?.pid ?? null, logsDropped: this.#log.dropped,
      lastError: s.lastError, loadedAt: this.#loadedAt.toISOString(),
    };
  }

  close(): void {
    this.#closed = true;
    this.#client?.close();
    this.#client = null;
  }

  /** A process for `source`, loaded and (for a new version) smoke-tested. Rejects PluginLoadError. */
  async #start(source: PluginSource, smoke: boolean): Promise<SandboxClient> {
    const o = this.#opts;
    let client: SandboxClient;
    try {
      client = await SandboxClient.start(source.code, source.displayName, {
        settings: sandboxSettings(o), graceMs: o.graceMs, startMs: o.startMs, batch: o.batchCalls,
        onLog: (level, text) => this.#log.emit(level, text),
        onDropped: (n) => this.#log.drop(n),
        onExit: (kind, message) => this.#processEnded(client, kind, message),
      });
    } catch (err) {
      if (err instanceof SandboxLoadError) throw new PluginLoadError(source.displayName, err.message, err.line, err.column);
      throw new PluginLoadError(source.displayName, (err as Error).message);
    }
    if (smoke) {
      try {
        await smokeTest(client);
      } catch (err) {
        client.close();
        throw new PluginLoadError(source.displayName, (err as Error).message);
      }
    }
    return client;
  }

  /** The current process ended while in use (killed by the time limit, or crashed). */
  #processEnded(client: SandboxClient, kind: 'timeout' | 'crashed', message: string): void {
    if (client !== this.#client) return;
    this.#client = null;
    this.#opts.logger.warn({ plugin: this.name, kind, err: message }, 'plugin process ended');
    this.#terminated(kind, message);
  }

  /** A process for the current version; null when it cannot start or the plugin is quarantined. */
  #restart(): Promise<SandboxClient | null> {
    if (this.#state === 'quarantined' || this.#closed) return Promise.resolve(null);
    if (this.#client && !this.#client.ended) return Promise.resolve(this.#client);
    this.#restarting ??= (async () => {
      const source = this.#source;
      try {
        const client = await this.#start(source, false);
        if (this.#closed || source !== this.#source) { client.close(); return this.#client; }
        this.#client = client;
        this.#stats.restarts++;
        return client;
      } catch (err) {
        this.#opts.logger.error({ plugin: this.name, err: (err as Error).message }, 'plugin process restart failed');
        return null;
      } finally {
        this.#restarting = null;
      }
    })();
    const restarting = this.#restarting;
    // a restart that fails counts as a termination: five in a row quarantine the plugin instead of
    // starting a process for every request
    void restarting.then((client) => { if (client === null && !this.#closed && this.#state === 'active') this.#terminated('crashed', 'the plugin process could not be restarted'); });
    return restarting;
  }

  #outcome<H extends HookName>(hook: H, a: Answer, targets: RouteTargets | undefined, t0: number): CallResult<DecisionFor[H]> {
    if (a.kind !== 'ok') return this.#failed(hook, t0, a.kind, String(a.value));
    if (a.value === null || a.value === undefined) return this.#ok(hook, t0, null);
    const v = validateDecision(hook, a.value, targets);
    return v.ok ? this.#ok(hook, t0, v.decision) : this.#failed(hook, t0, 'malformed', v.message);
  }

  #ok<H extends HookName>(hook: H, t0: number, decision: DecisionFor[H]): CallResult<DecisionFor[H]> {
    this.#count(hook, 'ok', t0);
    return { ok: true, decision };
  }

  /** `blame`: the failure counts towards quarantine when it ended the plugin's isolate or process. */
  #failed<H extends HookName>(hook: H, t0: number, kind: PluginErrorKind, message: string, blame = true): CallResult<DecisionFor[H]> {
    this.#stats.errors++;
    this.#stats.lastError = { kind, message, at: new Date().toISOString() };
    this.#opts.logger.warn({ plugin: this.name, hook, kind, err: message }, 'plugin call failed');
    // a process that ended is counted once, by #processEnded; an isolate replaced inside it here
    if (blame && (kind === 'timeout' || kind === 'oom') && this.#client !== null) this.#terminated(kind, message);
    return this.#done(hook, t0, kind, message);
  }

  #done<H extends HookName>(hook: H, t0: number, outcome: PluginErrorKind, message: string): CallResult<DecisionFor[H]> {
    this.#count(hook, outcome, t0);
    return { ok: false, error: { kind: outcome, message }, onError: this.onErrorFor(hook) };
  }

  #count(hook: HookName, outcome: 'ok' | PluginErrorKind, t0: number): void {
    const byOutcome = this.#stats.calls[hook];
    byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
    this.#opts.observer?.onCall?.({ plugin: this.name, hook, outcome, seconds: (performance.now() - t0) / 1000 });
  }

  /** The isolate or process was replaced: count it, quarantine on too many, else restart now. */
  #terminated(kind: PluginErrorKind, message: string): void {
    this.#stats.terminations++;
    this.#opts.observer?.onTermination?.({ plugin: this.name, kind, message });
    const now = Date.now();
    const { failures, windowMs } = this.#opts.quarantine;
    this.#failures = this.#failures.filter((t) => now - t < windowMs);
    this.#failures.push(now);
    if (this.#failures.length >= failures) {
      this.#opts.logger.error({ plugin: this.name, failures: this.#failures.length, windowMs }, 'plugin quarantined until reload');
      this.#setState('quarantined');
      return;
    }
    // Restart at once, so the next (innocent) request does not wait for it.
    if (this.#client === null) void this.#restart();
  }

  #setState(state: PluginState): void {
    if (state === 'quarantined') { this.#client?.close(); this.#client = null; }
    if (this.#state === state) return;
    this.#state = state;
    this.#opts.observer?.onStateChange?.({ plugin: this.name, state, version: this.version });
  }
}

/** Every exported hook called once on a synthetic request: a failure or an invalid decision rejects the version. */
async function smokeTest(client: SandboxClient): Promise<void> {
  const views: Record<HookName, unknown[]> = { onRequest: [SMOKE_REQUEST], route: [SMOKE_REQUEST], onResponse: [SMOKE_RESPONSE, SMOKE_REQUEST] };
  for (const hook of HOOKS) {
    if (!client.hooks.includes(hook)) continue;
    const a = await new Promise<Answer>((resolve) => client.call(hook, views[hook], resolve));
    if (a.kind !== 'ok') throw new Error(`smoke call of ${hook} failed (${a.kind}): ${String(a.value)}`);
    const v = validateDecision(hook, a.value ?? null);
    if (!v.ok) throw new Error(`smoke call of ${hook} failed (malformed): ${v.message}`);
  }
}
