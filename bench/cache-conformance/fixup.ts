/** The suite's header "magic": relative dates, location targets (as in its lib/header-fixup.mjs). */
import type { HeaderSpec } from './suite-types.js';

export const noBodyStatus = new Set([204, 304]);
const dateHeaders = new Set(['date', 'expires', 'last-modified', 'if-modified-since', 'if-unmodified-since']);
const locationHeaders = new Set(['location', 'content-location']);
/** Response headers the client never compares against what the origin sent. */
export const skipResponseHeaders = new Set(['date']);

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => n.toString().padStart(2, '0');

export function httpDate(now: number, deltaSecs: number, format?: string): string {
  const t = new Date(now + deltaSecs * 1000);
  if (format === 'rfc850') {
    return `${DAYS[t.getUTCDay()]}, ${pad(t.getUTCDate())}-${MONTHS[t.getUTCMonth()]}-${t.getUTCFullYear().toString().slice(2)} ` +
      `${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())} GMT`;
  }
  return t.toUTCString();
}

type Headerish = Record<string, unknown>;

/** Rewrites a header spec in place (the suite mutates its configs the same way) and returns it. */
export function fixupHeader<T extends unknown[]>(header: T, respHeaders: Headerish, req: { magic_locations?: boolean; rfc850date?: string[] }): T {
  const name = String(header[0]).toLowerCase();
  const serverNow = parseInt(String(respHeaders['server-now']));
  if (dateHeaders.has(name) && Number.isInteger(header[1])) {
    const format = req.rfc850date?.includes(name) ? 'rfc850' : undefined;
    header[1] = httpDate(serverNow, header[1] as number, format);
  }
  const baseUrl = respHeaders['server-base-url'];
  if (locationHeaders.has(name) && req.magic_locations) {
    header[1] = header[1] ? `${String(baseUrl)}/${String(header[1])}` : String(baseUrl);
  }
  return header;
}

export function getHeader(headers: HeaderSpec[] | undefined, name: string): string | undefined {
  const h = headers?.find((x) => x[0].toLowerCase() === name.toLowerCase());
  return h === undefined ? undefined : String(h[1]);
}
