/**
 * Request coalescing (collapsed forwarding): while one request for a primary key is on its way
 * upstream, others for the same key wait for it instead of sending their own, then look the store up
 * again. The leader settles its flight as soon as it knows the answer will not be stored (at the
 * response head), or once it is stored or failed, so waiters never wait for a body they cannot use.
 */

export class Flight {
  #settled = false;
  #resolve!: () => void;
  readonly done = new Promise<void>((resolve) => { this.#resolve = resolve; });

  constructor(private readonly onSettle: () => void) {}

  get settled(): boolean { return this.#settled; }

  /** Releases the waiters; idempotent. */
  settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.onSettle();
    this.#resolve();
  }
}

export class Coalescer {
  readonly #flights = new Map<string, Flight>();
  #waiting = 0;

  /** The flight in progress for a key, if any. */
  current(key: string): Flight | undefined {
    return this.#flights.get(key);
  }

  /** Starts a flight for a key; the leader must settle it on every path. */
  lead(key: string): Flight {
    const flight: Flight = new Flight(() => { if (this.#flights.get(key) === flight) this.#flights.delete(key); });
    this.#flights.set(key, flight);
    return flight;
  }

  /** Waits for a flight to settle, at most `ms`; true when it settled in time. */
  async wait(flight: Flight, ms: number): Promise<boolean> {
    if (flight.settled) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => { timer = setTimeout(resolve, ms, false); });
    this.#waiting++;
    try {
      return await Promise.race([flight.done.then(() => true as const), timeout]);
    } finally {
      this.#waiting--;
      clearTimeout(timer);
    }
  }

  /** Flights in progress (for status and tests). */
  get size(): number { return this.#flights.size; }

  /** Requests waiting for another one's flight right now (for tests). */
  get waiting(): number { return this.#waiting; }
}
