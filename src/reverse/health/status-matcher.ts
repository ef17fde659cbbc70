/** One `expect_status` entry: a status (`200`), a range (`"200-399"`), or a class (`"2xx"`). */
export type ExpectStatus = number | string;

/** Default when `expect_status` is empty or unset: any 2xx or 3xx (HAProxy/nginx). */
const DEFAULT_EXPECT_STATUS: readonly ExpectStatus[] = ['200-399'];

/** Compiles `expect_status` into a predicate. Throws an Error with a user-facing message when invalid. */
export function parseExpectStatus(list: readonly ExpectStatus[] | undefined): (status: number) => boolean {
  const entries = list && list.length > 0 ? list : DEFAULT_EXPECT_STATUS;
  const ranges: Array<[number, number]> = entries.map(parseEntry);
  return (status) => ranges.some(([lo, hi]) => status >= lo && status <= hi);
}

function parseEntry(entry: ExpectStatus): [number, number] {
  const s = String(entry).trim();
  let m = /^(\d{3})$/.exec(s);
  if (m) return check([Number(m[1]), Number(m[1])], entry);
  m = /^(\d{3})\s*-\s*(\d{3})$/.exec(s);
  if (m) return check([Number(m[1]), Number(m[2])], entry);
  m = /^([1-5])xx$/i.exec(s);
  if (m) return [Number(m[1]) * 100, Number(m[1]) * 100 + 99];
  throw new Error(`expect_status: ${JSON.stringify(entry)} is not a status, a range like "200-399" or a class like "2xx"`);
}

function check(r: [number, number], entry: ExpectStatus): [number, number] {
  if (r[0] < 100 || r[1] > 599 || r[0] > r[1]) throw new Error(`expect_status: ${JSON.stringify(entry)} is out of 100-599 or reversed`);
  return r;
}
