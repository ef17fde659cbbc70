/**
 * Makes the hook calls queued during one turn of the event loop together, one crossing into each
 * plugin's isolate for all of them. Entering an isolate costs more than a simple hook's own work
 * (~12 000 instructions: locks, timers, copies; in a busy proxy the first entry of a turn also
 * finds the isolate's memory out of the caches, ~30–45 µs), and a loaded proxy reads many
 * requests per turn (10–20 at 3000 req/s with 50 connections in `npm run bench`): that cost is
 * then paid once per turn. A call queued while the batches run (the next plugin of a request's
 * chain) is made in the same pass, so a chain of plugins does not wait a turn per plugin.
 */
import type { CallResult, HookName, RouteTargets } from './plugin-types.js';
import { HOOKS } from './plugin-types.js';

/** Calls per crossing at most (the shim also stops a batch at half the call time limit). */
const MAX_BATCH = 64;

/** Where a queued call's result goes (an object, not a callback: no closure per call). */
export interface CallReceiver<D> { received(result: CallResult<D>): void }

/** A call as the batch maker sees it: the hook's arguments as encoded for the isolate. */
export interface BatchedCall { args: string[]; targets: RouteTargets | undefined }

interface QueuedCall extends BatchedCall { receiver: CallReceiver<never> }

export interface CallQueueOwner {
  /** Makes `calls` of `hook` in one crossing; results in order, fewer when the batch ran out of time (never none). */
  makeBatch(hook: HookName, calls: readonly BatchedCall[]): CallResult<unknown>[];
  /** The result for calls of a batch that failed unexpectedly (a bug: logged by the owner). */
  internalFailure(hook: HookName, err: unknown): CallResult<unknown>;
  /** A receiver threw (a bug in the caller: logged by the owner). */
  receiverThrew(err: unknown): void;
}

/** One plugin's calls waiting for this turn's batch, per hook. */
export class CallQueue {
  #queued: Record<HookName, QueuedCall[]> = { onRequest: [], route: [], onResponse: [] };
  #scheduled = false;

  constructor(private readonly owner: CallQueueOwner) {}

  enqueue(hook: HookName, args: string[], receiver: CallReceiver<never>, targets: RouteTargets | undefined): void {
    this.#queued[hook].push({ args, targets, receiver });
    if (!this.#scheduled) {
      this.#scheduled = true;
      flushSoon(this);
    }
  }

  /** Makes the queued calls, MAX_BATCH a crossing, and hands each caller its result. */
  flush(): void {
    this.#scheduled = false;
    for (const hook of HOOKS) {
      let pending = this.#queued[hook];
      if (pending.length === 0) continue;
      this.#queued[hook] = [];
      while (pending.length > 0) {
        const batch = pending.length > MAX_BATCH ? pending.slice(0, MAX_BATCH) : pending;
        let results: CallResult<unknown>[];
        try {
          results = this.owner.makeBatch(hook, batch);
          if (results.length === 0 || results.length > batch.length) throw new Error(`a batch of ${batch.length} ${hook} calls answered ${results.length}`);
        } catch (err) {
          // A bug here must not leave requests waiting for ever, nor throw into the event loop.
          const failure = this.owner.internalFailure(hook, err);
          results = batch.map(() => failure);
        }
        for (let i = 0; i < results.length; i++) this.#deliver(batch[i]!, results[i]!);
        // the calls a batch had no time left for go into the next crossing
        pending = pending.slice(results.length);
      }
    }
  }

  /** A receiver that throws must not cost the other calls of the batch their results. */
  #deliver(call: QueuedCall, result: CallResult<unknown>): void {
    try {
      call.receiver.received(result as CallResult<never>);
    } catch (err) {
      this.owner.receiverThrew(err);
    }
  }
}

const ready: CallQueue[] = [];
let scheduled = false;

/** `queue` has calls queued: flush it once the event loop has read what is ready now. */
function flushSoon(queue: CallQueue): void {
  ready.push(queue);
  if (!scheduled) {
    scheduled = true;
    // setImmediate, not a microtask: each socket's data is its own callback, with microtasks run in between.
    setImmediate(drain);
  }
}

function drain(): void {
  try {
    // `ready` grows while this runs (callbacks queue the next plugin's calls): index, not iterator.
    for (let i = 0; i < ready.length; i++) ready[i]!.flush();
  } finally {
    ready.length = 0;
    scheduled = false;
  }
}
