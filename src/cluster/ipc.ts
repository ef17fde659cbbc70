/**
 * The primary ↔ worker messages, and the primary's request/response bookkeeping on top of them.
 * Every message carries `gh` so cluster-internal and prom-client messages on the same channel are ignored.
 */
import type { Worker } from 'node:cluster';
import type { GatehouseConfig } from '../config/types.js';
import type { FanOutMethod } from '../admin/admin-target.js';

/** A pool change a worker applies; the primary journals them so a replacement worker starts with the same pools. */
export interface PoolChange { method: FanOutMethod; args: unknown[] }

/** What the primary asks of a running worker. */
export type WorkerCall =
  | { op: 'status' }
  | { op: 'metrics' }
  | { op: 'reload'; config: GatehouseConfig }
  | { op: 'admin'; change: PoolChange };

export type ToWorker =
  | { gh: 'start'; config: GatehouseConfig; replay: PoolChange[]; ticketSecret: string }
  | { gh: 'call'; id: number; call: WorkerCall };

export type FromWorker =
  /** Listening for messages: the primary may send `start`. */
  | { gh: 'hello' }
  | { gh: 'ready' }
  /** Could not start (e.g. a port in use); the worker exits 1 after sending it. */
  | { gh: 'failed'; problems: string[] }
  | { gh: 'reply'; id: number; ok: true; value: unknown }
  | { gh: 'reply'; id: number; ok: false; error: string };

export function isGatehouseMessage<T extends { gh: string }>(m: unknown): m is T {
  return typeof m === 'object' && m !== null && typeof (m as { gh?: unknown }).gh === 'string';
}

/** One worker's answer to a broadcast call. */
export type CallResult = { worker: Worker; ok: true; value: unknown } | { worker: Worker; ok: false; error: string };

interface Pending { workerId: number; timer: NodeJS.Timeout; settle: (r: { ok: true; value: unknown } | { ok: false; error: string }) => void }

/** Correlates calls with replies; a call never hangs: it fails on timeout or when its worker exits. */
export class CallTracker {
  #next = 1;
  readonly #pending = new Map<number, Pending>();

  call(worker: Worker, call: WorkerCall, timeoutMs: number): Promise<CallResult> {
    const id = this.#next++;
    return new Promise((resolve) => {
      const settle = (r: { ok: true; value: unknown } | { ok: false; error: string }) => {
        clearTimeout(this.#pending.get(id)?.timer);
        this.#pending.delete(id);
        resolve({ worker, ...r });
      };
      const timer = setTimeout(() => settle({ ok: false, error: `worker ${worker.id} did not answer in ${timeoutMs}ms` }), timeoutMs);
      this.#pending.set(id, { workerId: worker.id, timer, settle });
      // With a callback, a send to a worker that just died fails here; without one, node emits the error
      // on the worker, where nothing listens, and the primary would crash.
      const failed = (e: Error | null) => { if (e) settle({ ok: false, error: `worker ${worker.id}: ${e.message}` }); };
      try {
        worker.send({ gh: 'call', id, call } satisfies ToWorker, undefined, failed);
      } catch (e) {
        failed(e as Error);
      }
    });
  }

  reply(message: Extract<FromWorker, { gh: 'reply' }>): void {
    const p = this.#pending.get(message.id);
    if (!p) return;
    p.settle(message.ok ? { ok: true, value: message.value } : { ok: false, error: message.error });
  }

  /** Fails every call still waiting on a worker that exited. */
  abandon(workerId: number): void {
    for (const p of [...this.#pending.values()]) if (p.workerId === workerId) p.settle({ ok: false, error: `worker ${workerId} exited` });
  }
}
