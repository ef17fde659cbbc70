/** Folds the workers' GET /status documents into one summary: counters summed, the rest kept when they agree. */

/** Keys whose values are per-process counts: the cluster's figure is their sum. */
const SUMMED = new Set([
  'requests', 'active', 'failures', 'ejections', 'inflight', 'tunnels', 'connections',
  'entries', 'keys', 'bytes', 'maxSize', 'calls', 'errors', 'terminations', 'rebuilds', 'heap_bytes', 'logs_dropped',
]);
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Merges values found at the same place in every worker's status. */
export function mergeStatus(values: unknown[], key = ''): unknown {
  const present = values.filter((v) => v !== undefined && v !== null);
  if (!present.length) return values[0];
  if (present.every(Array.isArray)) {
    const length = Math.max(...present.map((a) => a.length));
    return Array.from({ length }, (_, i) => mergeStatus(present.map((a) => a[i])));
  }
  if (present.every(isObject)) {
    const keys = [...new Set(present.flatMap((o) => Object.keys(o)))];
    return Object.fromEntries(keys.map((k) => [k, mergeStatus(present.map((o) => o[k]), k)]));
  }
  if (present.every((v) => typeof v === 'number')) {
    const total = present.reduce((a, b) => a + b, 0);
    // Weights, response times: each worker's view of the same thing, so the mean.
    return SUMMED.has(key) ? total : Math.round((total / present.length) * 100) / 100;
  }
  if (present.every((v) => v === present[0])) return present[0];
  if (present.every((v) => typeof v === 'string' && ISO_TIME.test(v))) return present.toSorted().at(-1);
  return 'mixed';
}
