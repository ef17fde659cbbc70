/** The root pino logger: JSON lines (buffered, asynchronous) or pretty output for humans. */
import pino, { type Logger } from 'pino';

export interface LogOptions { level: string; format: 'json' | 'pretty'; file: string; nodeId: string }

export function createLogger(opts: LogOptions): Logger {
  const base = { node: opts.nodeId };
  const redact = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]'];
  if (opts.format === 'pretty') {
    const transport = pino.transport({
      target: 'pino-pretty',
      options: { destination: opts.file || 1, colorize: !opts.file && process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l' },
    });
    return pino({ level: opts.level, base, redact }, transport);
  }
  // Buffered writes keep logging off the hot path; flushed on exit (see flushLogger).
  const dest = pino.destination({ dest: opts.file || 1, sync: false, minLength: 4096 });
  return pino({ level: opts.level, base, redact, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

/** Writes out what the buffered destination still holds. */
export function flushLogger(log: Logger): Promise<void> {
  return new Promise((resolve) => log.flush(() => resolve()));
}
