import { ActiveHttpChecker, type ActiveHttpOptions } from './active-http.js';
import { ActiveTcpChecker } from './active-tcp.js';
import type { HealthChecker } from './health-checker.js';

/** Config `pools.*.health` (durations in ms). `fall`/`rise` are applied by HealthState, not here. */
export type ActiveHealthConfig = Omit<ActiveHttpOptions, 'path'> & { readonly path?: string };

/** An HTTP checker when `path` is set, else a TCP connect checker (for `tcp:` pools and non-HTTP upstreams). */
export function createHealthChecker(cfg: ActiveHealthConfig): HealthChecker {
  return cfg.path ? new ActiveHttpChecker({ ...cfg, path: cfg.path }) : new ActiveTcpChecker(cfg);
}
