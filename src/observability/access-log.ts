/**
 * Writes access-log lines. They are the one log line every request makes, so they skip pino's generic
 * serialiser: the line is built as a string in the same JSON shape pino writes (level, time, the
 * logger's bindings, fields, msg) and handed to the logger's own destination — a file or stdout, or
 * the pretty formatter (pretty-lines.ts), which reads the same JSON lines.
 */
import pino, { type Logger } from 'pino';

/** What an access line shows of a request's feature fields (core/context.ts RequestSlots). */
export interface LoggedSlots {
  readonly pool?: string;
  readonly user?: string;
}

export interface AccessRecord {
  reqId: string;
  method: string | undefined;
  path: string | undefined;
  /** `HTTP/1.1`, `HTTP/1.0` or `HTTP/2`. */
  protocol?: string;
  status: number;
  ms: number;
  bytes: number;
  client: string;
  route?: string;
  /** The request's feature fields: the line shows `pool` (reverse) and `user` (forward). */
  slots?: LoggedSlots;
  upstream?: string;
  upstream_status?: number;
  upstream_ms?: number;
  tls?: { version: string; cipher: string; sni: string; client?: { subject: string; fingerprint256: string; verified: boolean } } | null;
  error?: string;
  extra?: Record<string, unknown>;
}

type PinoInternals = Logger & Record<symbol, unknown>;

const json = JSON.stringify;
const round2 = (n: number) => Math.round(n * 100) / 100;

export class AccessLog {
  readonly #log: Logger;
  readonly #stream?: { write(line: string): unknown };
  readonly #time?: () => string;
  readonly #bindings: string;

  constructor(log: Logger) {
    this.#log = log;
    const internals = log as PinoInternals;
    const stream = internals[pino.symbols.streamSym] as { write?: (s: string) => unknown } | undefined;
    const time = internals[pino.symbols.timeSym] as (() => string) | undefined;
    if (stream && typeof stream.write === 'function' && typeof time === 'function') {
      this.#stream = stream as { write(line: string): unknown };
      this.#time = time;
    }
    this.#bindings = (internals[pino.symbols.chindingsSym] as string | undefined) ?? '';
  }

  write(r: AccessRecord): void {
    if (!this.#log.isLevelEnabled('info')) return;
    if (!this.#stream) { this.#slowWrite(r); return; }
    let line = `{"level":30${this.#time!()}${this.#bindings},"reqId":${json(r.reqId)},"method":${json(r.method ?? '')},"path":${json(r.path ?? '')}${r.protocol ? `,"protocol":${json(r.protocol)}` : ''},"status":${r.status},"ms":${round2(r.ms)},"bytes":${r.bytes},"client":${json(r.client)}`;
    if (r.route !== undefined) line += `,"route":${json(r.route)}`;
    const slots = r.slots;
    if (slots?.pool !== undefined) line += `,"pool":${json(slots.pool)}`;
    if (r.upstream !== undefined) line += `,"upstream":${json(r.upstream)}`;
    if (r.upstream_status !== undefined) line += `,"upstream_status":${r.upstream_status}`;
    if (r.upstream_ms !== undefined) line += `,"upstream_ms":${round2(r.upstream_ms)}`;
    if (slots?.user !== undefined) line += `,"user":${json(slots.user)}`;
    if (r.tls) line += `,"tls":${json(r.tls)}`;
    if (r.error !== undefined) line += `,"error":${json(r.error)}`;
    if (r.extra) for (const k in r.extra) if (r.extra[k] !== undefined) line += `,${json(k)}:${json(r.extra[k])}`;
    this.#stream.write(`${line},"msg":"access"}\n`);
  }

  #slowWrite(r: AccessRecord): void {
    const { extra, slots, ...fields } = r;
    const { upstream, upstream_status, upstream_ms, tls, error, ...head } = fields;
    // the same keys in the same order as the fast path
    this.#log.info({ ...head, pool: slots?.pool, upstream, upstream_status, upstream_ms, user: slots?.user, tls, error, ...extra }, 'access');
  }
}
