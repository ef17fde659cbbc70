/** Parsers for the config's human units: durations (`250ms`, `5s`, `2m`, `1h`) and sizes (`512KB`, `256MB`). */

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds for a duration string or number (a bare number is ms). Throws on anything else. */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const m = DURATION.exec(value.trim());
    if (m) return Math.round(Number(m[1]) * DURATION_MS[(m[2] ?? 'ms').toLowerCase()]!);
  }
  throw new Error(`must be a duration like 250ms, 5s, 2m or 1h, got ${JSON.stringify(value)}`);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KIB|MIB|GIB)?$/i;
const SIZE_BYTES: Record<string, number> = {
  b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};

/** Bytes for a size string or number (a bare number is bytes; KB = 1024 bytes, as nginx). Throws on anything else. */
export function parseSize(value: unknown): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  if (typeof value === 'string') {
    const m = SIZE.exec(value.trim());
    if (m) return Math.floor(Number(m[1]) * SIZE_BYTES[(m[2] ?? 'b').toLowerCase()]!);
  }
  throw new Error(`must be a size like 512KB or 256MB, got ${JSON.stringify(value)}`);
}
