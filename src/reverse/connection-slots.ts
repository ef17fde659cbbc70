/**
 * The connections an upstream may have busy at once (its `keepalive`), and a bounded, timed wait for one
 * (HAProxy's server maxconn + `timeout queue`, nginx's upstream `queue`). Without it undici queues
 * requests for a connection without limit and without a deadline.
 */
import { ProxyError } from '../core/errors.js';

interface Waiter { grant: () => void; timer: NodeJS.Timeout }

export class ConnectionSlots {
  #busy = 0;
  readonly #queue = new Set<Waiter>();

  constructor(readonly size: number, readonly maxQueue: number) {}

  get queued(): number { return this.#queue.size; }

  /** Takes a slot when one is free; false means: call `wait`. */
  tryTake(): boolean {
    if (this.#busy >= this.size || this.#queue.size > 0) return false;
    this.#busy++;
    return true;
  }

  /**
   * Waits for a slot, first come first served. Rejects with 503 at once when the queue is full, after
   * `timeoutMs` otherwise. `cancel` receives a function that withdraws the wait (the client left).
   */
  wait(timeoutMs: number, cancel: (withdraw: () => void) => void): Promise<void> {
    if (this.#queue.size >= this.maxQueue) {
      return Promise.reject(new ProxyError('upstream_busy', 'too many requests waiting for an upstream connection', { retryAfter: 1 }));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => { clearTimeout(waiter.timer); this.#busy++; resolve(); },
        timer: setTimeout(() => {
          this.#queue.delete(waiter);
          reject(new ProxyError('upstream_busy', `no upstream connection free within ${timeoutMs} ms`, { retryAfter: 1 }));
        }, timeoutMs),
      };
      this.#queue.add(waiter);
      cancel(() => {
        if (!this.#queue.delete(waiter)) return;
        clearTimeout(waiter.timer);
        reject(new ProxyError('client_closed'));
      });
    });
  }

  /** Gives a slot back; the longest waiter gets it. */
  release(): void {
    this.#busy--;
    const next = this.#queue.values().next();
    if (next.done) return;
    this.#queue.delete(next.value);
    next.value.grant();
  }
}
