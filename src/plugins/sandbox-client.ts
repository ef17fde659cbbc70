/**
 * The proxy's side of one plugin process: starts it (sandbox/sandbox-process.ts), loads the plugin,
 * sends the hook calls queued in one turn of the event loop as one message, and hands each call
 * its answer. It is also the fallback of the time limits: a process that owes answers and has been
 * silent for longer than a call may run (plus a grace) is killed, and so is one that cannot start.
 * When the process ends, every call it owed is answered `timeout` (killed here) or `crashed`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HookName } from './plugin-types.js';
import type { AnswerKind, CallMessage, FromSandbox, SandboxSettings, ToSandbox } from './sandbox/protocol.js';

export interface Answer { kind: AnswerKind; value: unknown }

export interface SandboxClientOptions {
  settings: SandboxSettings;
  /** Silence allowed beyond `settings.timeoutMs` while calls are owed, before the process is killed. */
  graceMs: number;
  /** Time for a new process to start (Node itself, before the plugin). */
  startMs: number;
  onLog(level: 'info' | 'warn' | 'error', text: string): void;
  onDropped(count: number): void;
  /** The process ended on its own or was killed (not by close()). */
  onExit(kind: 'timeout' | 'crashed', message: string): void;
  /** Calls of one turn go in one message (default); false sends each call at once (the bench compares). */
  batch?: boolean;
}

/** The plugin did not load: the message, and the position in the file when known. */
export class SandboxLoadError extends Error {
  constructor(message: string, readonly line?: number, readonly column?: number) { super(message); }
}

// Under tsx (tests, bench) the entry is the .ts file beside this one; built, the .js.
const ENTRY = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './sandbox/sandbox-process.ts' : './sandbox/sandbox-process.js', import.meta.url));
const EXEC_ARGV = [...process.execArgv.filter((a) => !a.startsWith('--inspect')), ...(process.execArgv.includes('--no-node-snapshot') ? [] : ['--no-node-snapshot'])];
/** The last characters the process wrote to stderr, kept for the crash message. */
const STDERR_KEPT = 2000;

type Waiter = (a: Answer) => void;

export class SandboxClient {
  hooks: readonly HookName[] = [];
  /** Isolate heap as last reported by the process. */
  heapBytes = 0;
  readonly #child: ChildProcess;
  readonly #opts: SandboxClientOptions;
  /** Calls sent and not yet answered, by id. */
  readonly #owed = new Map<number, Waiter>();
  /** Calls of this turn, not yet sent. */
  #batch: CallMessage[] = [];
  #nextId = 1;
  #quietSince = 0;
  #timer: NodeJS.Timeout | undefined;
  #ended = false;
  #closing = false;
  #killedFor: string | undefined;
  #stderr = '';
  #onMessage: ((m: FromSandbox) => void) | undefined;

  private constructor(opts: SandboxClientOptions) {
    this.#opts = opts;
    this.#child = fork(ENTRY, [], { execArgv: EXEC_ARGV, serialization: 'json', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.#child.stderr!.setEncoding('utf8').on('data', (s: string) => { this.#stderr = (this.#stderr + s).slice(-STDERR_KEPT); });
    this.#child.on('message', (m) => {
      this.#quietSince = Date.now();
      this.#onMessage?.(m as FromSandbox);
    });
    this.#child.on('error', () => { /* 'exit' follows and says what is left to say */ });
    this.#child.on('exit', (code, signal) => this.#exited(code, signal));
    this.#idle();
  }

  /** Starts a process and loads the plugin in it. Rejects SandboxLoadError, or Error when the process fails. */
  static async start(code: string, file: string, opts: SandboxClientOptions): Promise<SandboxClient> {
    const c = new SandboxClient(opts);
    try {
      await c.#expect('ready', opts.startMs, 'the plugin process did not start');
      c.#send({ t: 'load', code, file, settings: opts.settings });
      const m = await c.#expect('loaded', opts.settings.loadTimeoutMs + opts.graceMs, `the plugin did not load within ${opts.settings.loadTimeoutMs}ms`);
      c.hooks = m.hooks;
      c.#onMessage = (msg) => c.#received(msg);
      c.#onEnd = undefined;
      c.#started = true;
      return c;
    } catch (err) {
      c.close();
      throw err;
    }
  }

  get ended(): boolean { return this.#ended; }
  get pid(): number | undefined { return this.#child.pid; }
  get owed(): number { return this.#owed.size; }

  /** Queues a call; it is sent with the others of this turn. `done` gets the answer, never a throw. */
  call(hook: HookName, views: unknown[], done: Waiter): void {
    if (this.#ended) { done({ kind: 'crashed', value: 'the plugin process has ended' }); return; }
    const id = this.#nextId++;
    this.#owed.set(id, done);
    if (this.#opts.batch === false) {
      this.#batch.push([id, hook, ...views]);
      this.#flush();
      return;
    }
    // sent once the event loop has read what is ready now, with this turn's other calls
    if (this.#batch.length === 0) setImmediate(() => this.#flush());
    this.#batch.push([id, hook, ...views]);
  }

  /** Ends the process; calls still owed are answered `crashed`. */
  close(): void {
    this.#closing = true;
    if (!this.#ended) this.#child.kill('SIGKILL');
  }

  /** Ends the process once it owes nothing. */
  closeWhenIdle(): void {
    if (this.owed === 0) { this.close(); return; }
    this.#closing = true; // #received closes it when the last answer arrives
  }

  #flush(): void {
    const calls = this.#batch;
    this.#batch = [];
    if (calls.length === 0 || this.#ended) return;
    if (!this.#child.connected) return;
    this.#busy();
    this.#send({ t: 'calls', calls });
  }

  #received(m: FromSandbox): void {
    if (m.t !== 'answers') return;
    if (m.heap !== undefined) this.heapBytes = m.heap;
    for (const [level, text] of m.logs ?? []) this.#opts.onLog(level, String(text));
    if (m.dropped) this.#opts.onDropped(m.dropped);
    for (const [id, kind, value] of m.answers) {
      const done = this.#owed.get(id);
      if (done === undefined) continue;
      this.#owed.delete(id);
      done({ kind, value });
    }
    if (this.owed === 0) {
      this.#idle();
      if (this.#closing) this.close();
    }
  }

  /** Waits for one message of type `t`; on a deadline the process is killed. */
  #expect<T extends FromSandbox['t']>(t: T, ms: number, late: string): Promise<Extract<FromSandbox, { t: T }>> {
    return new Promise((resolve, reject) => {
      this.#hold(true);
      const timer = setTimeout(() => { this.#kill(late); }, ms);
      this.#onMessage = (m) => {
        if (m.t === 'load_failed') { clearTimeout(timer); reject(new SandboxLoadError(m.message, m.line, m.column)); return; }
        if (m.t !== t) return;
        clearTimeout(timer);
        this.#onMessage = undefined;
        this.#idle();
        resolve(m as Extract<FromSandbox, { t: T }>);
      };
      this.#onEnd = (message) => { clearTimeout(timer); reject(new Error(message)); };
    });
  }

  #onEnd: ((message: string) => void) | undefined;
  #started = false;

  /** Owes answers: the process keeps the proxy's event loop alive and its silence is timed. */
  #busy(): void {
    if (this.#timer !== undefined) return;
    this.#hold(true);
    this.#quietSince = Date.now();
    // a call may run `timeoutMs`, the first of a hook in a fresh isolate `loadTimeoutMs`
    const { timeoutMs, loadTimeoutMs } = this.#opts.settings;
    const limit = Math.max(timeoutMs, loadTimeoutMs) + this.#opts.graceMs;
    const check = () => {
      if (this.#owed.size === 0) { this.#timer = undefined; return; }
      const quiet = Date.now() - this.#quietSince;
      if (quiet >= limit) {
        this.#timer = undefined;
        this.#kill(`the plugin process did not answer for ${quiet}ms (a call may run ${timeoutMs}ms)`);
        return;
      }
      this.#timer = setTimeout(check, limit - quiet);
    };
    this.#timer = setTimeout(check, limit);
  }

  #idle(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#hold(false);
  }

  /** Whether the process keeps the proxy's event loop alive: only while something is owed. */
  #hold(on: boolean): void {
    const handles = [this.#child, this.#child.channel, this.#child.stderr] as ({ ref?(): void; unref?(): void } | null | undefined)[];
    for (const h of handles) { if (on) h?.ref?.(); else h?.unref?.(); }
  }

  #kill(why: string): void {
    if (this.#ended) return;
    this.#killedFor ??= why;
    this.#child.kill('SIGKILL');
  }

  #send(m: ToSandbox): void {
    try { this.#child.send(m); } catch { /* the process is ending: 'exit' answers the calls */ }
  }

  #exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.#ended = true;
    clearTimeout(this.#timer);
    const killed = this.#killedFor;
    const tail = this.#stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
    const message = killed ?? (this.#closing ? 'the plugin was unloaded'
      : `the plugin process ended (${signal ?? `exit ${code}`})${tail ? `: ${tail.slice(0, 500)}` : ''}`);
    const kind: 'timeout' | 'crashed' = killed && !this.#closing ? 'timeout' : 'crashed';
    const owed = [...this.#owed.values()];
    this.#owed.clear();
    this.#batch = [];
    this.#onEnd?.(message);
    // the owner hears of the end before the calls' answers, so it counts the end once, not per call
    if (this.#started && !this.#closing) this.#opts.onExit(kind, message);
    for (const done of owed) done({ kind, value: message });
  }
}
