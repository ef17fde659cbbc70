/**
 * `log.format: pretty`: turns the logger's JSON lines into lines a person reads in a terminal. One line
 * per entry (`12:00:01.234 INFO  GET /path 200 3.1ms 512B …` for an access entry, the message and its
 * fields as key=value for the rest), except the start message, which lists what is listening and what
 * to try first.
 */
import { startBanner } from './start-banner.js';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line carries or that the line's head already shows. */
const HIDDEN = new Set(['level', 'time', 'msg', 'node', 'pid', 'hostname']);
const ACCESS_SHOWN = new Set([...HIDDEN, 'method', 'path', 'status', 'ms', 'bytes']);

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
function clock(time: unknown): string {
  const d = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now());
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

const show = (v: unknown) => (typeof v === 'string' && v !== '' && !/[\s"=]/.test(v) ? v : JSON.stringify(v));
const fields = (entry: Record<string, unknown>, skip: Set<string>) =>
  Object.entries(entry).filter(([k, v]) => !skip.has(k) && v !== undefined).map(([k, v]) => ` ${k}=${show(v)}`).join('');

/** One entry (a parsed JSON log line) as text, ending in a newline. */
function prettyLine(entry: Record<string, unknown>): string {
  const head = `${clock(entry.time)} ${LEVELS[entry.level as number] ?? String(entry.level)} `;
  if (entry.msg === 'access') {
    return `${head}${entry.method} ${entry.path} ${entry.status} ${entry.ms}ms ${entry.bytes}B${fields(entry, ACCESS_SHOWN)}\n`;
  }
  if (entry.msg === 'gatehouse started') return `${head}${startBanner(entry)}\n`;
  return `${head}${entry.msg ?? ''}${fields(entry, HIDDEN)}\n`;
}

interface Destination { write(text: string): unknown; flush(cb?: (err?: Error) => void): void }

/** A destination for pino: takes its JSON lines (whole lines, one or more per call), passes pretty lines on. */
export function prettyDestination(out: Destination): Destination {
  return {
    write(chunk: string) {
      let text = '';
      for (const line of chunk.split('\n')) {
        if (!line) continue;
        try { text += prettyLine(JSON.parse(line) as Record<string, unknown>); } catch { text += `${line}\n`; }
      }
      return out.write(text);
    },
    flush: (cb) => out.flush(cb),
  };
}
