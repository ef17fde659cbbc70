/**
 * A raw HTTP/2 client for hostile tests: it sends exactly the frames it is told (malformed header
 * lists, floods of PING, SETTINGS, RST_STREAM or CONTINUATION) over cleartext h2 with prior knowledge,
 * and records the frames the server sends back (type, flags, stream, and the error code of RST_STREAM
 * and GOAWAY). Header blocks are HPACK literals without indexing and without Huffman coding.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';

export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;
export const CODE = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export interface Frame { type: number; flags: number; stream: number; payload: Buffer; /** RST_STREAM and GOAWAY error code. */ code?: number }

export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

function hpackInt(value: number, prefixBits: number, firstByte: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByte | value]);
  const out = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) { out.push((rest % 128) + 128); rest = Math.floor(rest / 128); }
  out.push(rest);
  return Buffer.from(out);
}

const hpackString = (s: string) => Buffer.concat([hpackInt(Buffer.byteLength(s), 7, 0), Buffer.from(s, 'latin1')]);

/** A header block: each field a literal without indexing, new name (RFC 7541 §6.2.2). */
export function headerBlock(fields: [string, string][]): Buffer {
  return Buffer.concat(fields.flatMap(([n, v]) => [Buffer.from([0]), hpackString(n), hpackString(v)]));
}

/** A GET's pseudo-header fields for `path` on `authority`. */
export const getFields = (path: string, authority = 'h2.test'): [string, string][] =>
  [[':method', 'GET'], [':scheme', 'http'], [':authority', authority], [':path', path]];

export class RawH2 {
  readonly frames: Frame[] = [];
  closed = false;
  #buffer: Buffer = Buffer.alloc(0);
  #waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
    socket.on('error', () => {});
    socket.on('close', () => { this.closed = true; this.#wake(); });
  }

  /** Connects, sends the preface and an empty SETTINGS, and acknowledges the server's SETTINGS. */
  static async open(port: number): Promise<RawH2> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const c = new RawH2(socket);
    socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
    await c.waitFor((f) => f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK));
    c.send(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    return c;
  }

  send(...frames: Buffer[]): void { if (!this.socket.destroyed) this.socket.write(Buffer.concat(frames)); }

  /** HEADERS with the whole block, ending the stream unless `endStream` is false. */
  headers(stream: number, fields: [string, string][], endStream = true): Buffer {
    return frame(FRAME.HEADERS, FLAG.END_HEADERS | (endStream ? FLAG.END_STREAM : 0), stream, headerBlock(fields));
  }

  /** The first frame (seen or to come) that matches; undefined when the connection closes first or after `ms`. */
  async waitFor(match: (f: Frame) => boolean, ms = 15_000): Promise<Frame | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.find(match);
      if (found || this.closed || Date.now() >= deadline) return found;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** GOAWAY, or the connection's end (undefined code), within `ms`; null when neither came. */
  async goneAway(ms = 15_000): Promise<{ code?: number } | null> {
    const f = await this.waitFor((x) => x.type === FRAME.GOAWAY, ms);
    if (f) return { code: f.code };
    return this.closed ? {} : null;
  }

  close(): void { this.socket.destroy(); }

  #read(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    while (this.#buffer.length >= 9) {
      const length = this.#buffer.readUIntBE(0, 3);
      if (this.#buffer.length < 9 + length) break;
      const f: Frame = {
        type: this.#buffer[3]!, flags: this.#buffer[4]!, stream: this.#buffer.readUInt32BE(5) & 0x7fffffff,
        payload: this.#buffer.subarray(9, 9 + length),
      };
      if (f.type === FRAME.RST_STREAM) f.code = f.payload.readUInt32BE(0);
      if (f.type === FRAME.GOAWAY) f.code = f.payload.readUInt32BE(4);
      this.frames.push(f);
      this.#buffer = this.#buffer.subarray(9 + length);
    }
    this.#wake();
  }

  #wake(): void { const w = this.#waiters; this.#waiters = []; for (const fn of w) fn(); }
}
