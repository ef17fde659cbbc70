/**
 * Forks the cluster's workers and keeps them running: hands each its config (and the runtime pool changes
 * made so far), replaces one that dies (with a back-off), fans calls out to them, and stops them.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { GatehouseConfig } from '../config/types.js';
import { CallTracker, isGatehouseMessage, type CallResult, type FromWorker, type PoolChange, type ToWorker, type WorkerCall } from './ipc.js';

/** A worker that lived this long before dying is replaced at once; one that dies sooner waits, doubling each time. */
const STABLE_MS = 10_000;
const MIN_DELAY_MS = 100;
const MAX_DELAY_MS = 30_000;
/** After shutdown_timeout, a worker that still has not exited is killed. */
const KILL_GRACE_MS = 5_000;

interface Slot {
  worker?: Worker;
  ready: boolean;
  startedAt: number;
  delay: number;
  respawn?: NodeJS.Timeout;
  /** The config generation and journal length this worker has applied. */
  generation: number;
  applied: number;
}

export class StartFailed extends Error {
  constructor(readonly problems: string[]) { super(problems.join('\n')); }
}

export class Supervisor {
  readonly #log: Logger;
  readonly #calls = new CallTracker();
  readonly #slots: Slot[];
  #config: GatehouseConfig;
  #generation = 0;
  /** Pool changes since the last reload, in order: what a new worker replays. */
  #journal: PoolChange[] = [];
  /** Every worker derives its TLS session-ticket keys from this, so a ticket resumes on any worker. */
  readonly #ticketSecret = randomBytes(32).toString('hex');
  #started = false;
  #stopping = false;
  #allExited?: () => void;
  /** Serialises everything that changes workers' state, so a worker never misses a change while it starts. */
  #lock: Promise<unknown> = Promise.resolve();
  #restarts = 0;

  constructor(readonly count: number, config: GatehouseConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#slots = Array.from({ length: count }, () => ({ ready: false, startedAt: 0, delay: MIN_DELAY_MS, generation: -1, applied: 0 }));
    // Config objects cross the IPC channel; advanced serialisation keeps any Map, Set or RegExp in them intact.
    cluster.setupPrimary({ serialization: 'advanced' });
  }

  get config(): GatehouseConfig { return this.#config; }
  /** Workers replaced after dying. */
  get restarts(): number { return this.#restarts; }

  /** Workers answering calls, in slot order. */
  get running(): Worker[] { return this.#slots.filter((s) => s.ready && s.worker).map((s) => s.worker!); }

  /** Forks every worker; resolves when all listen, rejects with StartFailed on the first that cannot. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.#slots.map((slot) => this.#fork(slot)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    this.#started = true;
    this.#log.info({ workers: this.count }, 'cluster started');
  }

  /** Runs `fn` alone among state-changing operations (reloads, pool changes, a new worker catching up). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  /** Sends one call to every running worker and waits for all answers. */
  broadcast(call: WorkerCall, timeoutMs: number): Promise<CallResult[]> {
    return Promise.all(this.running.map((w) => this.#calls.call(w, call, timeoutMs)));
  }

  call(worker: Worker, call: WorkerCall, timeoutMs: number): Promise<CallResult> {
    return this.#calls.call(worker, call, timeoutMs);
  }

  /** Remembers an applied pool change for workers that start later. Call inside exclusive(). */
  record(change: PoolChange): void {
    this.#journal.push(change);
    for (const s of this.#slots) if (s.ready) s.applied = this.#journal.length;
  }

  /** Makes `config` the one new workers get; runtime pool changes end with a reload, as in one process. Call inside exclusive(). */
  adopt(config: GatehouseConfig): void {
    this.#config = config;
    this.#generation++;
    this.#journal = [];
    for (const s of this.#slots) if (s.ready) { s.generation = this.#generation; s.applied = 0; }
  }

  #fork(slot: Slot): Promise<void> {
    const worker = cluster.fork();
    Object.assign(slot, { worker, ready: false, startedAt: Date.now(), generation: -1, applied: 0 });
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (error?: StartFailed) => {
        if (settled) return;
        settled = true;
        if (error) reject(error); else resolve();
      };
      worker.on('message', (m: unknown) => {
        if (!isGatehouseMessage<FromWorker>(m)) return;
        if (m.gh === 'reply') this.#calls.reply(m);
        else if (m.gh === 'hello') {
          slot.generation = this.#generation;
          slot.applied = this.#journal.length;
          worker.send({ gh: 'start', config: this.#config, replay: [...this.#journal], ticketSecret: this.#ticketSecret } satisfies ToWorker);
        } else if (m.gh === 'ready') {
          void this.exclusive(() => this.#catchUp(slot, worker)).then(() => settle());
        } else if (m.gh === 'failed') {
          this.#log.error({ worker_id: worker.id, problems: m.problems }, 'worker could not start');
          settle(new StartFailed(m.problems));
        }
      });
      // a message sent as the worker dies fails on its channel: logged, never thrown in the primary
      worker.on('error', (err: Error) => this.#log.warn({ worker_id: worker.id, err: err.message }, 'worker channel error'));
      worker.on('exit', (code, signal) => {
        this.#calls.abandon(worker.id);
        slot.ready = false;
        slot.worker = undefined;
        settle(new StartFailed([`worker ${worker.id} exited while starting (${signal ?? `code ${code}`})`]));
        // Before the cluster is up, a death is a failure to start (the primary exits 1), not something to replace.
        if (this.#stopping || !this.#started) {
          if (this.#slots.every((s) => !s.worker)) this.#allExited?.();
          return;
        }
        this.#replace(slot, worker, code, signal);
      });
    });
  }

  /** A worker that started while reloads or pool changes happened applies them before it counts as running. */
  async #catchUp(slot: Slot, worker: Worker): Promise<void> {
    if (slot.worker !== worker) return;
    if (slot.generation !== this.#generation) {
      const r = await this.#calls.call(worker, { op: 'reload', config: this.#config }, 30_000);
      if (!r.ok) this.#log.error({ worker_id: worker.id, error: r.error }, 'new worker could not apply the current config');
      slot.applied = 0;
    }
    for (const change of this.#journal.slice(slot.applied)) await this.#calls.call(worker, { op: 'admin', change }, 30_000);
    Object.assign(slot, { generation: this.#generation, applied: this.#journal.length, ready: slot.worker === worker });
  }

  #replace(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    const lived = Date.now() - slot.startedAt;
    slot.delay = lived >= STABLE_MS ? MIN_DELAY_MS : Math.min(Math.max(slot.delay * 2, 500), MAX_DELAY_MS);
    this.#log.error({ worker_id: worker.id, pid: worker.process.pid, code, signal, lived_ms: lived, restart_in_ms: slot.delay }, 'worker died; replacing it');
    slot.respawn = setTimeout(() => {
      slot.respawn = undefined;
      if (this.#stopping) return;
      this.#restarts++;
      this.#fork(slot).catch(() => undefined); // a failed start exits, and its exit schedules the next try
    }, slot.delay);
  }

  /** Passes the signal on (workers drain up to shutdown_timeout) and resolves when every worker has exited. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    this.#stopping = true;
    for (const s of this.#slots) { clearTimeout(s.respawn); s.respawn = undefined; }
    const alive = this.#slots.filter((s) => s.worker);
    if (!alive.length) return;
    const exited = new Promise<void>((resolve) => { this.#allExited = resolve; });
    for (const s of alive) s.worker!.process.kill(signal);
    const kill = setTimeout(() => {
      for (const s of this.#slots) {
        if (!s.worker) continue;
        this.#log.warn({ worker_id: s.worker.id }, 'worker did not exit in time; killing it');
        s.worker.process.kill('SIGKILL');
      }
    }, this.#config.shutdown_timeout + KILL_GRACE_MS);
    await exited;
    clearTimeout(kill);
  }
}
