/** What went wrong on a proxied request. `status_5xx` counts only when `count_5xx` is on. */
export type PassiveFailureKind = 'connect' | 'timeout' | 'reset' | 'status_5xx';

/** Config `pools.*.passive` (durations in ms). */
export interface PassiveOptions {
  /** Failures within `window` that eject an upstream. Default 3. */
  readonly max_failures?: number;
  /** Sliding window for counting failures, ms. Default 10 000. */
  readonly window?: number;
  /** First ejection, ms; doubles on each repeat. Default 30 000. */
  readonly eject?: number;
  /** Longest ejection, ms. Default max(eject, 300 000) (Envoy `max_ejection_time`). */
  readonly max_eject?: number;
  /** Most of a pool ejected at once, percent, rounded down (Envoy `max_ejection_percent`). Default 50. */
  readonly max_ejection_percent?: number;
  /** Count 5xx responses as failures. Default false (nginx `proxy_next_upstream error timeout`). */
  readonly count_5xx?: boolean;
  /** Clock, injected for tests. Default Date.now. */
  readonly now?: () => number;
}

/** Outcome of a recorded failure, for logging and /status. */
export type PassiveVerdict =
  | { readonly action: 'counted'; readonly failures: number }
  | { readonly action: 'ejected'; readonly until: number; readonly durationMs: number; readonly ejections: number }
  /** Over the threshold but the pool is already at its ejection cap: kept in service. */
  | { readonly action: 'capped'; readonly failures: number }
  /** Ignored: already ejected, or a 5xx while count_5xx is off. */
  | { readonly action: 'ignored' };

interface Entry {
  failures: number[]; // timestamps, oldest first, at most max_failures
  ejectedUntil: number;
  ejections: number; // repeat count driving the doubling; decays while the upstream behaves
  lastEjectionEnd: number;
}

/**
 * Passive outlier detection for one pool (nginx max_fails/fail_timeout with Envoy's ejection
 * backoff and cap). `max_failures` failures within `window` eject an upstream for
 * `eject × 2^(n-1)` (capped at `max_eject`), where n counts recent ejections; n decays by one
 * for every `eject` the upstream spends back in service without being ejected. At most
 * `max_ejection_percent` of the pool (rounded down) is ejected at once, so a one-upstream pool is
 * never ejected (as nginx ignores max_fails for a single server) and a bad signal cannot empty a pool.
 */
export class PassiveTracker {
  readonly #max: number;
  readonly #window: number;
  readonly #eject: number;
  readonly #maxEject: number;
  readonly #maxPercent: number;
  readonly #count5xx: boolean;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(opts: PassiveOptions = {}) {
    this.#max = Math.max(1, Math.floor(opts.max_failures ?? 3));
    this.#window = Math.max(1, opts.window ?? 10_000);
    this.#eject = Math.max(1, opts.eject ?? 30_000);
    this.#maxEject = Math.max(this.#eject, opts.max_eject ?? 300_000);
    this.#maxPercent = Math.min(Math.max(opts.max_ejection_percent ?? 50, 0), 100);
    this.#count5xx = opts.count_5xx ?? false;
    this.#now = opts.now ?? Date.now;
  }

  /** Records a failed request on `upstreamId`; `poolSize` is the pool's current member count. */
  failure(upstreamId: string, poolSize: number, kind: PassiveFailureKind = 'connect'): PassiveVerdict {
    if (kind === 'status_5xx' && !this.#count5xx) return { action: 'ignored' };
    const now = this.#now();
    const e = this.#entry(upstreamId);
    if (e.ejectedUntil > now) return { action: 'ignored' };
    const since = now - this.#window;
    while (e.failures.length > 0 && e.failures[0]! <= since) e.failures.shift();
    e.failures.push(now);
    if (e.failures.length > this.#max) e.failures.shift();
    if (e.failures.length < this.#max) return { action: 'counted', failures: e.failures.length };

    if (this.ejectedCount() + 1 > Math.floor((poolSize * this.#maxPercent) / 100)) {
      return { action: 'capped', failures: e.failures.length };
    }
    if (e.ejections > 0 && e.lastEjectionEnd > 0) {
      const decay = Math.floor((now - e.lastEjectionEnd) / this.#eject);
      e.ejections = Math.max(0, e.ejections - decay);
    }
    e.ejections++;
    const durationMs = Math.min(this.#eject * 2 ** (e.ejections - 1), this.#maxEject);
    e.ejectedUntil = now + durationMs;
    e.lastEjectionEnd = e.ejectedUntil;
    e.failures.length = 0;
    return { action: 'ejected', until: e.ejectedUntil, durationMs, ejections: e.ejections };
  }

  /** True while the upstream is ejected (ejections lapse by the clock; nothing to call). */
  isEjected(upstreamId: string): boolean {
    const e = this.#entries.get(upstreamId);
    return e !== undefined && e.ejectedUntil > this.#now();
  }

  /** Upstreams of this pool ejected right now. */
  ejectedCount(): number {
    const now = this.#now();
    let n = 0;
    for (const e of this.#entries.values()) if (e.ejectedUntil > now) n++;
    return n;
  }

  /** For /status: ejected until (ms epoch, 0 if not), recent ejection count, failures in the window. */
  snapshot(upstreamId: string): { ejectedUntil: number; ejections: number; failures: number } {
    const e = this.#entries.get(upstreamId);
    if (!e) return { ejectedUntil: 0, ejections: 0, failures: 0 };
    const now = this.#now();
    return {
      ejectedUntil: e.ejectedUntil > now ? e.ejectedUntil : 0,
      ejections: e.ejections,
      failures: e.failures.filter((t) => t > now - this.#window).length,
    };
  }

  /** Ends an ejection early (admin action, or active health saw it recover). Keeps the backoff count. */
  reinstate(upstreamId: string): void {
    const e = this.#entries.get(upstreamId);
    if (e && e.ejectedUntil > this.#now()) {
      e.ejectedUntil = this.#now();
      e.lastEjectionEnd = e.ejectedUntil;
    }
  }

  /** Forgets an upstream removed from the pool. */
  remove(upstreamId: string): void {
    this.#entries.delete(upstreamId);
  }

  #entry(id: string): Entry {
    let e = this.#entries.get(id);
    if (!e) {
      e = { failures: [], ejectedUntil: 0, ejections: 0, lastEjectionEnd: 0 };
      this.#entries.set(id, e);
    }
    return e;
  }
}
