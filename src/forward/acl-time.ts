/**
 * The `time` condition of an ACL rule: `{ days: [mon, tue, …] | ["mon-fri"], hours: "08:00-18:00"
 * (or a list of ranges), zone: "Europe/Paris" }`. Each part is optional; all given parts must hold.
 * Hours are [start, end): `08:00-18:00` holds at 08:00 and 17:59, not 18:00. A range whose end
 * is before its start spans midnight (`22:00-06:00`); its days are those of the current moment.
 * Zone: any IANA name Intl knows; default the process's local zone (as Squid uses local time).
 */

export type TimeMatcher = (now: Date) => boolean;

const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const HOURS = /^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-4]):([0-5]\d)$/;

/** 0 = Sunday, for `mon`, `Tue`, `thurs`, `friday`; -1 otherwise. */
function dayIndex(name: string): number {
  const n = name.trim().toLowerCase();
  return n.length < 3 ? -1 : DAYS.findIndex((d) => d.startsWith(n));
}

/** Compiles a time condition; pushes `key.part: message` errors and returns undefined when invalid. */
export function compileTime(cfg: unknown, key: string, errors: string[]): TimeMatcher | undefined {
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) {
    errors.push(`${key}: must be an object with days, hours and/or zone`);
    return undefined;
  }
  const before = errors.length;
  for (const k of Object.keys(cfg)) if (!['days', 'hours', 'zone'].includes(k)) errors.push(`${key}.${k}: unknown key`);
  const c = cfg as { days?: unknown; hours?: unknown; zone?: string };

  let days: Set<number> | undefined;
  if (c.days !== undefined) {
    days = new Set();
    for (const [i, d] of toList(c.days).entries()) {
      const [from, to] = String(d).split('-').map(dayIndex);
      const isRange = String(d).includes('-');
      if (from === undefined || from < 0 || (isRange && (to === undefined || to < 0))) {
        errors.push(`${key}.days[${i}]: expected a day (mon … sun) or a range (mon-fri), got ${JSON.stringify(d)}`);
        continue;
      }
      for (let x = from; ; x = (x + 1) % 7) {
        days.add(x);
        if (!isRange || x === to) break;
      }
    }
  }

  const ranges: [number, number][] = [];
  if (c.hours !== undefined) {
    for (const [i, h] of toList(c.hours).entries()) {
      const m = HOURS.exec(String(h).trim());
      const start = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
      const end = m ? Number(m[3]) * 60 + Number(m[4]) : NaN;
      if (!m || end > 24 * 60 || start === end) {
        errors.push(`${key}.hours[${i}]: expected "HH:MM-HH:MM" (e.g. 08:00-18:00), got ${JSON.stringify(h)}`);
      } else ranges.push([start, end]);
    }
  }

  let fmt: Intl.DateTimeFormat | undefined;
  try {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: c.zone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  } catch {
    errors.push(`${key}.zone: unknown time zone ${JSON.stringify(c.zone)}`);
  }
  if (errors.length > before || !fmt) return undefined;
  const format = fmt;

  return (now) => {
    let weekday = '';
    let minutes = 0;
    for (const p of format.formatToParts(now)) {
      if (p.type === 'weekday') weekday = p.value;
      else if (p.type === 'hour') minutes += Number(p.value) * 60;
      else if (p.type === 'minute') minutes += Number(p.value);
    }
    if (days && !days.has(dayIndex(weekday))) return false;
    if (ranges.length === 0) return true;
    return ranges.some(([s, e]) => (s < e ? minutes >= s && minutes < e : minutes >= s || minutes < e));
  };
}

function toList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}
