export type HealthStatus = 'healthy' | 'unhealthy';

/** A change of state, for the log line and `gatehouse_health_transitions_total{from,to}`. */
export interface HealthTransition {
  readonly from: HealthStatus;
  readonly to: HealthStatus;
  /** The last check's reason, with the streak: `3 consecutive failures (status 503)`. */
  readonly reason: string;
}

export interface HealthStateOptions {
  /** Consecutive failures that take a healthy upstream down. Default 2 (Contract example; HAProxy `fall 3`). */
  readonly fall?: number;
  /** Consecutive successes that bring an unhealthy upstream back. Default 2. */
  readonly rise?: number;
  /**
   * State before the first check. Default `healthy` (nginx, HAProxy): a pool serves at once on
   * start. Use `unhealthy` for upstreams added at run time that should prove themselves first.
   */
  readonly initial?: HealthStatus;
}

/**
 * The fall/rise threshold machine of one upstream (HAProxy `fall`/`rise`): healthy → unhealthy
 * only after `fall` consecutive failures, back only after `rise` consecutive successes. A
 * result that agrees with the current state resets the opposite streak.
 */
export class HealthState {
  readonly #fall: number;
  readonly #rise: number;
  #status: HealthStatus;
  #streak = 0; // consecutive results that disagree with #status
  #lastReason: string | undefined;

  constructor(opts: HealthStateOptions = {}) {
    this.#fall = Math.max(1, Math.floor(opts.fall ?? 2));
    this.#rise = Math.max(1, Math.floor(opts.rise ?? 2));
    this.#status = opts.initial ?? 'healthy';
  }

  get status(): HealthStatus {
    return this.#status;
  }

  get healthy(): boolean {
    return this.#status === 'healthy';
  }

  /** Reason of the last recorded check (for /status). */
  get lastReason(): string | undefined {
    return this.#lastReason;
  }

  /** Records one check result; returns the transition when this result flips the state. */
  record(ok: boolean, reason?: string): HealthTransition | undefined {
    this.#lastReason = reason;
    const agrees = ok === (this.#status === 'healthy');
    if (agrees) {
      this.#streak = 0;
      return undefined;
    }
    this.#streak++;
    const needed = ok ? this.#rise : this.#fall;
    if (this.#streak < needed) return undefined;
    const from = this.#status;
    const to: HealthStatus = ok ? 'healthy' : 'unhealthy';
    this.#status = to;
    this.#streak = 0;
    const what = ok ? (needed === 1 ? 'success' : 'successes') : needed === 1 ? 'failure' : 'failures';
    const streak = `${needed} consecutive ${what}`;
    return { from, to, reason: reason ? `${streak} (${reason})` : streak };
  }
}
