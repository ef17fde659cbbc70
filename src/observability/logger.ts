/** The root pino logger: JSON lines (buffered, asynchronous) or pretty output for humans. */
import pino, { type Logger } from 'pino';
import { LineWriter } from './line-writer.js';
import { prettyDestination } from './pretty-lines.js';

export interface LogOptions {
  level: string; format: 'json' | 'pretty'; file: string; nodeId: string;
  /** Cluster worker id, bound to every line as `worker`. */
  worker?: number;
  /** Several processes (a cluster) write the same stdout or file. */
  shared?: boolean;
}

let stampMs = 0;
let stamp = '';
/** pino's isoTime, made once per millisecond: at thousands of lines a second most share one. */
function isoTimeCached(): string {
  const now = Date.now();
  if (now !== stampMs) { stampMs = now; stamp = `,"time":"${new Date(now).toISOString()}"`; }
  return stamp;
}

/** Destinations to write out synchronously when the process exits. */
const writers = new Set<LineWriter>();
process.once('exit', () => { for (const w of writers) w.end(); });

export function createLogger(opts: LogOptions): Logger {
  const base = opts.worker === undefined ? { node: opts.nodeId } : { node: opts.nodeId, worker: opts.worker };
  const redact = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]'];
  // Buffered writes keep logging off the hot path; flushed on exit (see flushLogger).
  // Shared: each write is whole lines of at most PIPE_BUF bytes, which the kernel never interleaves with another process's.
  const dest = new LineWriter(opts.file || 1, opts.shared || opts.worker !== undefined ? { atomicChunk: 4096 } : {});
  writers.add(dest);
  // Pretty: the same JSON lines, turned into one human line each on their way to the same destination.
  const target = opts.format === 'pretty' ? prettyDestination(dest) : dest;
  return pino({ level: opts.level, base, redact, timestamp: isoTimeCached }, target);
}

/** Writes out what the buffered destination still holds. */
export function flushLogger(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
