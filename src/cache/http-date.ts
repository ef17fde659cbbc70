/** HTTP-date parsing (RFC 9110 §5.6.7), matched case-insensitively as RFC 9111 §4.2 asks. */

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};
const MON = '(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// Only "GMT" is a valid zone; anything else is invalid for expiration (RFC 9111 §4.2).
const IMF = new RegExp(`^(?:mon|tue|wed|thu|fri|sat|sun), (\\d{2}) ${MON} (\\d{4}) ${TIME} gmt$`, 'i');
const RFC850 = new RegExp(
  `^(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday), (\\d{2})-${MON}-(\\d{2}) ${TIME} gmt$`, 'i');
const ASCTIME = new RegExp(`^(?:mon|tue|wed|thu|fri|sat|sun) ${MON} ( \\d|\\d{2}) ${TIME} (\\d{4})$`, 'i');

function build(year: number, mon: string, day: string, h: string, m: string, s: string): number | undefined {
  const d = Number(day), hh = Number(h), mm = Number(m), ss = Number(s);
  if (d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return undefined;
  const ms = Date.UTC(year, MONTHS[mon.toLowerCase()]!, d, hh, mm, ss);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** Seconds since the epoch for an HTTP-date, or undefined when the value is not one of the three formats. */
export function parseHttpDate(value: string | undefined, nowMs = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let m = IMF.exec(v);
  if (m) return build(Number(m[3]), m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  m = RFC850.exec(v);
  if (m) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is the most recent past year with those digits.
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return build(year, m[2]!, m[1]!, m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME.exec(v);
  if (m) return build(Number(m[6]), m[1]!, m[2]!.trim(), m[3]!, m[4]!, m[5]!);
  return undefined;
}

/** IMF-fixdate for a time in milliseconds. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
