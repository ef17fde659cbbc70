/** Fraction of its weight a newly healthy upstream starts at (Envoy's min_weight_percent 10%). */
const SLOW_START_MIN_FRACTION = 0.1;

/**
 * Effective weight of an upstream that became available at `sinceMs`, ramping linearly over
 * `slowStartMs` from `minFraction × weight` to `weight` (config `slow_start`, nginx/Envoy style).
 * Pure: the Upstream exposes this as its `weight` while ramping. Returns `weight` unchanged when
 * slow start is off (`slowStartMs <= 0`) or over. Never 0 for a positive weight, so a ramping
 * upstream still gets its first requests.
 */
export function slowStartWeight(
  weight: number,
  sinceMs: number,
  nowMs: number,
  slowStartMs: number,
  minFraction = SLOW_START_MIN_FRACTION,
): number {
  if (!(slowStartMs > 0) || !(weight > 0)) return weight;
  const elapsed = nowMs - sinceMs;
  if (elapsed >= slowStartMs) return weight;
  const fraction = Math.max(minFraction, elapsed / slowStartMs);
  return weight * Math.min(fraction, 1);
}

/** True while an upstream available since `sinceMs` is still ramping (callers can skip the math after). */
export function inSlowStart(sinceMs: number, nowMs: number, slowStartMs: number): boolean {
  return slowStartMs > 0 && nowMs - sinceMs < slowStartMs;
}
