/**
 * The wall-time limit of hook calls without a per-call timer. isolated-vm's `timeout` registers a
 * timer on its timer thread for every call, and that thread wakes for each one: ~12 µs of CPU
 * per call in a busy proxy, more than the rest of the call. Instead one watchdog isolate runs a
 * loop on isolated-vm's thread pool and watches every plugin isolate through shared memory: the
 * host marks a call's start (a timestamp and a store) and end (a compare-and-swap) on a
 * per-isolate word, well under 0.1 µs; the watchdog terminates (disposes) an isolate whose call
 * is still the same one at its deadline. The loop holds the plugin isolates' handles, so
 * isolates are registered in generations: the loop restarts to take in new ones.
 *
 * A call the watchdog is not confirmed to watch (before the loop started, while it restarts or
 * after it went idle) uses isolated-vm's own `timeout` instead, so no call is ever unguarded.
 * The loop ends after IDLE_MS without calls (an idle proxy costs nothing, and a process that is
 * done can exit) and is stopped before the process exits (a pool thread still running isolate
 * code when Node tears down crashes the process).
 */
import ivm from 'isolated-vm';

// Layout of the shared Int32Array: header words, then one sequence word per slot.
const STOP = 0;    // host → loop: leave (a new generation is waiting, or the process exits)
const GEN = 1;     // loop → host: the generation being watched, 0 = not watching
const ACTIVE = 2;  // loop → host: 1 while the loop's JavaScript runs
const WAKE = 3;    // never written: the loop sleeps on it, the host notifies it to hurry a stop
const ENDED = 4;   // loop → host: loops ended so far (the host knows without waiting for its event loop)
const HEADER = 5;
const CAPACITY = 1024;
/** A slot's word: even = idle, odd = in a call (sequence masked to 30 bits), KILLED = terminated. */
const MASK = 0x3fffffff;
const KILLED = -1;
const IDLE_MS = 1000;

/**
 * Runs inside the watchdog isolate. `meta` is [slot, limitMs, …], `isolates` in the same order;
 * `starts[slot]` is the Date.now() at which the host began the slot's current call.
 * It sleeps the smallest limit, or until the deadline of a call it saw running: a runaway call
 * dies at its limit (plus scheduling delay) while the loop wakes only ~1000/limit times a second
 * (each wake of a sleeping thread costs ~20 µs of CPU on a small VM).
 */
const LOOP = `(function (sab, startsSab, gen, idleMs, meta, ...isolates) {
  const ctl = new Int32Array(sab), starts = new Float64Array(startsSab);
  const n = isolates.length, seen = new Int32Array(n).fill(-2), since = new Float64Array(n);
  let period = 1000;
  for (let i = 0; i < n; i++) period = Math.min(period, meta[2 * i + 1]);
  // Its own clock only moves forward, by at most a second per wake (Date.now may jump).
  let clock = 0, prev = Date.now(), lastChange = 0, leaving = false, wait = period;
  Atomics.store(ctl, ${ACTIVE}, 1);
  Atomics.store(ctl, ${GEN}, gen);
  try {
    for (;;) {
      if (wait > 0) Atomics.wait(ctl, ${WAKE}, 0, wait);
      const now = Date.now();
      clock += Math.min(Math.max(now - prev, 0), 1000);
      prev = now;
      let inCall = false;
      wait = period;
      for (let i = 0; i < n; i++) {
        const slot = meta[2 * i], limit = meta[2 * i + 1], at = ${HEADER} + slot, v = Atomics.load(ctl, at);
        if (v !== seen[i]) { seen[i] = v; since[i] = clock; lastChange = clock; }
        if (v < 0 || (v & 1) === 0) continue;
        inCall = true;
        // Over the limit since the host's start, or by this loop's own clock (if the wall clock went back).
        const elapsed = now - starts[slot];
        if (elapsed >= limit || clock - since[i] >= limit) {
          // The compare-and-swap decides between this kill and the host ending the call.
          if (Atomics.compareExchange(ctl, at, v, ${KILLED}) === v) { try { isolates[i].dispose(); } catch {} }
        } else {
          wait = Math.min(wait, Math.max(1, limit - elapsed));
        }
      }
      if (leaving) { if (!inCall) return; continue; }
      if (Atomics.load(ctl, ${STOP}) !== 0 || clock - lastChange >= idleMs) {
        // Stop claiming to watch, then keep watching any call that began before the host could see that.
        leaving = true;
        wait = 0;
        Atomics.store(ctl, ${GEN}, 0);
      }
    }
  } finally {
    Atomics.store(ctl, ${GEN}, 0);
    Atomics.store(ctl, ${ACTIVE}, 0);
    Atomics.add(ctl, ${ENDED}, 1);
  }
})`;

class Watchdog {
  readonly ctl = new Int32Array(new SharedArrayBuffer((HEADER + CAPACITY) * 4));
  /** Per slot: Date.now() when the host began its current call. */
  readonly starts = new Float64Array(new SharedArrayBuffer(CAPACITY * 8));
  #isolate: ivm.Isolate | null = null;
  #loop: ivm.Reference | null = null;
  #slots = new Map<number, { isolate: ivm.Isolate; limitMs: number }>();
  #free = Array.from({ length: CAPACITY }, (_, i) => CAPACITY - 1 - i);
  /** Released since the running generation started: still in its list, so not reusable yet. */
  #retired: number[] = [];
  #gen = 0;
  /** Loops launched; a loop runs (or is about to) while this is ahead of the ENDED word. */
  #launched = 0;
  #stopping = false;
  #exitHook = false;
  /** Calls the watchdog terminated (seen by the host). */
  kills = 0;
  #sampledAt = 0;
  #cpuSample: NodeJS.CpuUsage = { user: 0, system: 0 };

  /**
   * The host thread's CPU time as of at most `maxAgeMs` before `now`: what a killed call used is
   * at most the CPU since then (a killed isolate cannot tell its own). A getrusage per call would
   * cost more than the rest of the guard (~0.3 µs in a loop, several µs in a busy proxy).
   */
  cpuSample(now: number, maxAgeMs: number): NodeJS.CpuUsage {
    if (now - this.#sampledAt >= maxAgeMs) {
      this.#sampledAt = now;
      this.#cpuSample = process.threadCpuUsage();
    }
    return this.#cpuSample;
  }

  /** A slot for `isolate`, or null when all are taken (its calls then always use isolated-vm's timeout). */
  register(isolate: ivm.Isolate, limitMs: number): WatchSlot | null {
    const index = this.#free.pop();
    if (index === undefined) return null;
    this.ctl[HEADER + index] = 0;
    this.#slots.set(index, { isolate, limitMs });
    return new WatchSlot(this, index, this.#gen + 1, limitMs);
  }

  get slots(): number { return this.#slots.size; }
  get latest(): number { return this.#gen; }

  release(index: number): void {
    if (this.#slots.delete(index)) this.#retired.push(index);
    if (this.#slots.size === 0) this.#stop();
  }

  /**
   * A call found its slot unwatched: start the loop, or make the running one leave when it was
   * started without this slot (the next call then starts a generation that has it).
   */
  ensure(slotGen: number): void {
    if (!this.#running()) this.#start();
    else if (this.#gen < slotGen) this.#stop();
  }

  #running(): boolean { return Atomics.load(this.ctl, ENDED) !== this.#launched; }

  #stop(): void {
    if (!this.#running() || this.#stopping) return;
    this.#stopping = true;
    Atomics.store(this.ctl, STOP, 1);
    Atomics.notify(this.ctl, WAKE);
  }

  #start(): void {
    if (this.#slots.size === 0) return;
    if (!this.#isolate || this.#isolate.isDisposed) {
      this.#isolate = new ivm.Isolate({ memoryLimit: 8 });
      this.#loop = this.#isolate.createContextSync().evalSync(LOOP, { reference: true }) as ivm.Reference;
    }
    if (!this.#exitHook) {
      this.#exitHook = true;
      process.on('exit', () => this.#stopForExit());
    }
    Atomics.store(this.ctl, STOP, 0);
    const gen = ++this.#gen;
    this.#free.push(...this.#retired);
    this.#retired = [];
    const meta: number[] = [];
    const isolates: ivm.Isolate[] = [];
    for (const [index, s] of this.#slots) {
      meta.push(index, s.limitMs);
      isolates.push(s.isolate);
    }
    this.#launched++;
    this.#stopping = false;
    this.#loop!.apply(undefined, [new ivm.ExternalCopy(this.ctl.buffer).copyInto(), new ivm.ExternalCopy(this.starts.buffer).copyInto(), gen, IDLE_MS,
      new ivm.ExternalCopy(meta).copyInto(), ...isolates]).catch(() => {
      // The loop never ran or was cut off (its isolate lost): count it as ended so the next call starts another.
      if (this.#running()) Atomics.store(this.ctl, ENDED, this.#launched);
      if (this.#isolate?.isDisposed === false) this.#isolate.dispose();
    });
  }

  /** Node is exiting: the loop must be out of isolate code before the pool threads are torn down. */
  #stopForExit(): void {
    if (!this.#running()) return;
    Atomics.store(this.ctl, STOP, 1);
    Atomics.notify(this.ctl, WAKE);
    // Normally the loop leaves within a millisecond; a loaded machine may not schedule its thread for a
    // while, and exiting while it still runs isolate code crashes the process, so wait generously.
    const until = Date.now() + 3000;
    while (Atomics.load(this.ctl, ACTIVE) === 1 && Date.now() < until) Atomics.wait(this.ctl, WAKE, 0, 1);
  }
}

/** One isolate's word in the shared memory. Only the host thread calls these. */
export class WatchSlot {
  #seq = 0;
  #cpu0: NodeJS.CpuUsage = { user: 0, system: 0 };
  readonly #dog: Watchdog;
  readonly #index: number;
  readonly #at: number;
  /** The first generation whose loop watches this slot. */
  readonly #gen: number;
  /** A sample this old overstates a killed call's CPU by at most a quarter of its limit (judged against half). */
  readonly #sampleAgeMs: number;

  constructor(dog: Watchdog, index: number, gen: number, limitMs: number) {
    this.#dog = dog;
    this.#sampleAgeMs = Math.max(1, limitMs / 4);
    this.#index = index;
    this.#at = HEADER + index;
    this.#gen = gen;
  }

  /** Marks a call as running; true when the watchdog guards it (else use isolated-vm's timeout). */
  begin(): boolean {
    const ctl = this.#dog.ctl;
    const now = Date.now();
    this.#dog.starts[this.#index] = now;
    this.#seq = (ctl[this.#at]! + 1) & MASK;
    // Store, then look (both sequentially consistent): either the loop sees this call, or this sees it leave.
    Atomics.store(ctl, this.#at, this.#seq);
    if (Atomics.load(ctl, GEN) >= this.#gen) {
      this.#cpu0 = this.#dog.cpuSample(now, this.#sampleAgeMs);
      return true;
    }
    this.#dog.ensure(this.#gen);
    return false;
  }

  /** Marks the call as ended; false when the watchdog terminated it (the isolate is disposed or about to be). */
  end(): boolean {
    const s = this.#seq;
    if (Atomics.compareExchange(this.#dog.ctl, this.#at, s, (s + 1) & MASK) === s) return true;
    this.#dog.kills++;
    return false;
  }

  /** Host-thread CPU ms since shortly before the last watched call began: at least what it used. */
  cpuMsSinceBegin(): number {
    const cpu = process.threadCpuUsage(this.#cpu0);
    return (cpu.user + cpu.system) / 1000;
  }

  release(): void { this.#dog.release(this.#index); }
}

const watchdog = new Watchdog();

/**
 * For tests and diagnostics: the generation being watched (0: none), the newest one launched (an
 * isolate registered now is watched from `latest + 1` on), slots in use, kills so far.
 */
export function watchdogState(): { generation: number; latest: number; slots: number; kills: number } {
  return { generation: Atomics.load(watchdog.ctl, GEN), latest: watchdog.latest, slots: watchdog.slots, kills: watchdog.kills };
}

/** Registers `isolate` for calls limited to `limitMs` of wall time. */
export function watchCalls(isolate: ivm.Isolate, limitMs: number): WatchSlot | null {
  return watchdog.register(isolate, limitMs);
}
