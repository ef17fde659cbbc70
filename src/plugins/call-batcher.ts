/**
 * Makes the hook calls queued during one turn of the event loop together, one crossing into each
 * plugin's isolate for all of them. Entering an isolate costs more than a simple hook's own work
 * (~12 000 instructions: locks, timers, copies; in a busy proxy the first entry of a turn also
 * finds the isolate's memory out of the caches, ~30–45 µs), and a loaded proxy reads many
 * requests per turn (10–20 at 3000 req/s with 50 connections in `npm run bench`): that cost is
 * then paid once per turn. A call queued while the batches run (the next plugin of a request's
 * chain) is made in the same pass, so a chain of plugins does not wait a turn per plugin.
 */

/** Something with calls queued (a Plugin). `flush` must not throw: its callers' callbacks catch their own errors. */
export interface Flushable { flush(): void }

const ready: Flushable[] = [];
let scheduled = false;

/** `target` has calls queued: flush it once the event loop has read what is ready now. */
export function flushSoon(target: Flushable): void {
  ready.push(target);
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
