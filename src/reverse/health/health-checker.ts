/** What a health checker needs of an upstream: its id and where to reach it. */
export interface HealthTarget {
  readonly id: string;
  /** `http://host:port` or `https://…`; only the origin is used (the check's `path` is separate). */
  readonly url: URL | string;
}

/** One check result. The pool feeds these into a HealthState (fall/rise) per upstream. */
export interface HealthReport {
  readonly upstreamId: string;
  readonly ok: boolean;
  /** Why it failed (`status 503`, `timeout after 1000ms`, `ECONNREFUSED`), or what passed (`status 200`, `connected`). */
  readonly reason?: string;
  /** How long the check took, ms (for /status). */
  readonly latencyMs?: number;
}

/**
 * Active health checking. Only reports; never touches balancers or upstream state.
 * `start` may be called again with a new membership: checks of upstreams still present continue
 * uninterrupted, new ones are started, removed ones stopped. After `stop` resolves, no more reports.
 */
export interface HealthChecker {
  start(pool: readonly HealthTarget[], report: (r: HealthReport) => void): void;
  stop(): Promise<void>;
}
