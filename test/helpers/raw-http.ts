/**
 * Raw HTTP/1.1 on loopback for protocol tests: a client that sends exact bytes and reads exact
 * responses, and a recording origin that keeps every byte it received and answers each request it
 * can frame with a scripted reply. Nothing here goes through node:http, so malformed input reaches
 * the proxy unchanged and what reaches the origin is seen exactly.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** The status line and header lines, as received (no final CRLF CRLF). */
  head: string;
  /** Lower-case names; repeated fields joined with `, `. */
  headers: Record<string, string>;
  body: Buffer;
}

/** Where a request or response head ends, or -1. */
const headEnd = (buf: Buffer): number => buf.indexOf('\r\n\r\n');

function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

/** Length of a complete chunked body at the start of `buf` (with trailers), or -1 when incomplete. */
function chunkedLength(buf: Buffer): number {
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return -1;
    const size = parseInt(buf.toString('latin1', at, eol).split(';')[0]!.trim(), 16);
    if (Number.isNaN(size)) return -1;
    at = eol + 2;
    if (size === 0) {
      // trailers end with an empty line
      for (;;) {
        const end = buf.indexOf('\r\n', at);
        if (end < 0) return -1;
        const empty = end === at;
        at = end + 2;
        if (empty) return at;
      }
    }
    if (buf.length < at + size + 2) return -1;
    at += size + 2;
  }
}

function dechunk(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    const size = parseInt(buf.toString('latin1', at, eol).split(';')[0]!.trim(), 16);
    at = eol + 2;
    if (!size) return Buffer.concat(parts);
    parts.push(buf.subarray(at, at + size));
    at += size + 2;
  }
}

/**
 * A raw client connection. `send` writes bytes as given; `response` reads one response (framed by
 * Content-Length, chunked, or the close), `rest` everything until the connection closes.
 */
export class RawClient {
  #buf = Buffer.alloc(0);
  #closed = false;
  #waiters: (() => void)[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => { this.#buf = Buffer.concat([this.#buf, d]); this.#wake(); });
    socket.on('close', () => { this.#closed = true; this.#wake(); });
    socket.on('error', () => { /* a reset is an outcome tests look at through `closed` */ });
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = connect(port, host);
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  get closed(): boolean { return this.#closed; }
  /** Bytes received and not yet consumed by `response`. */
  get pending(): Buffer { return this.#buf; }

  send(bytes: string | Buffer): void { this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes); }

  #wake(): void { for (const w of this.#waiters.splice(0)) w(); }

  /** Waits until `done` holds or the connection closes, at most `timeoutMs`. */
  async #until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done() && !this.#closed) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /**
   * Reads the next response; undefined when the connection closed (or `timeoutMs` passed) before a
   * whole one arrived. `head: true` for the answer to a HEAD request (no body). 1xx responses are
   * returned like any other.
   */
  async response(opts: { head?: boolean; timeoutMs?: number } = {}): Promise<RawResponse | undefined> {
    const timeoutMs = opts.timeoutMs ?? 15_000;
    let parsed: { res: RawResponse; length: number } | undefined;
    await this.#until(() => (parsed = this.#tryParse(!!opts.head, false)) !== undefined, timeoutMs);
    parsed ??= this.#closed ? this.#tryParse(!!opts.head, true) : undefined;
    if (!parsed) return undefined;
    this.#buf = this.#buf.subarray(parsed.length);
    return parsed.res;
  }

  #tryParse(isHead: boolean, atClose: boolean): { res: RawResponse; length: number } | undefined {
    const buf = this.#buf;
    const end = headEnd(buf);
    if (end < 0) return undefined;
    const head = buf.toString('latin1', 0, end);
    const [statusLine, ...lines] = head.split('\r\n');
    const status = Number(/^HTTP\/\d\.\d (\d{3})/.exec(statusLine!)?.[1] ?? 0);
    const headers = parseHeaders(lines);
    const start = end + 4;
    const noBody = isHead || (status >= 100 && status < 200) || status === 204 || status === 304;
    if (noBody) return { res: { status, head, headers, body: Buffer.alloc(0) }, length: start };
    if (/chunked\s*$/i.test(headers['transfer-encoding'] ?? '')) {
      const n = chunkedLength(buf.subarray(start));
      if (n < 0) return undefined;
      return { res: { status, head, headers, body: dechunk(buf.subarray(start, start + n)) }, length: start + n };
    }
    if (headers['content-length'] !== undefined && headers['transfer-encoding'] === undefined) {
      const n = Number(headers['content-length']);
      if (buf.length < start + n) return undefined;
      return { res: { status, head, headers, body: buf.subarray(start, start + n) }, length: start + n };
    }
    if (!atClose) return undefined;
    return { res: { status, head, headers, body: buf.subarray(start) }, length: buf.length };
  }

  /** Waits for the connection to close (at most `timeoutMs`); true when it did. */
  async waitClosed(timeoutMs = 15_000): Promise<boolean> {
    await this.#until(() => false, timeoutMs);
    return this.#closed;
  }

  close(): void { this.socket.destroy(); }
}

/**
 * Sends `bytes` on a fresh connection and reads responses until the proxy closes it (or `timeoutMs` pass
 * without a response: wide, so that a loaded machine still answers; end the last request with
 * `Connection: close` so that the exchange ends at once).
 */
export async function exchange(port: number, bytes: string | Buffer, opts: { timeoutMs?: number; head?: boolean; host?: string } = {}): Promise<{ responses: RawResponse[]; closed: boolean; rest: Buffer }> {
  const c = await RawClient.open(port, opts.host);
  c.send(bytes);
  const responses: RawResponse[] = [];
  for (;;) {
    const r = await c.response({ timeoutMs: opts.timeoutMs ?? 15_000, head: opts.head });
    if (!r) break;
    responses.push(r);
  }
  const closed = c.closed;
  const rest = c.pending;
  c.close();
  return { responses, closed, rest };
}

/** One request as the recording origin framed it. */
export interface SeenRequest {
  /** The exact bytes of this request (head and body). */
  raw: Buffer;
  /** Request line. */
  line: string;
  method: string;
  target: string;
  headers: Record<string, string>;
  /** Header lines as received, in order. */
  headerLines: string[];
  body: Buffer;
  /** Which connection it came on (0, 1, …, in accept order). */
  connection: number;
}

/** What the origin does with a request: raw bytes to write, and then whether to close or hold. */
export interface ScriptedReply {
  bytes?: string | Buffer;
  /** Write `bytes` this much later (the connection keeps being read meanwhile). */
  delayMs?: number;
  /** `end` closes after writing; `destroy` resets; `hold` leaves the connection open unanswered. */
  after?: 'keep' | 'end' | 'destroy' | 'hold';
  /** Lets a test drive the socket itself (faults, slow drips, 101 tunnels). */
  custom?: (socket: Socket) => void;
}

export type RawHandler = (req: SeenRequest, index: number) => ScriptedReply | string | Buffer;

export interface RecordingOrigin {
  port: number;
  url: string;
  server: Server;
  /** Every byte received, per connection, in accept order. */
  received: Buffer[];
  /** The requests it could frame, in order. */
  requests: SeenRequest[];
  /** All bytes received on every connection, concatenated (latin1). */
  text(): string;
  close(): Promise<void>;
}

/** `200 ok` with a Content-Length: the default reply. */
export const okReply = (body = 'ok', extra = ''): string =>
  `HTTP/1.1 200 OK\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/**
 * An origin on a raw TCP server. It frames requests (Content-Length or chunked), records each, and
 * answers with `handler`'s reply (a string or Buffer is written as is and the connection kept).
 * Bytes it cannot frame are still kept in `received`.
 */
export async function startRecordingOrigin(handler: RawHandler = () => okReply()): Promise<RecordingOrigin> {
  const received: Buffer[] = [];
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const connection = received.length;
    received.push(Buffer.alloc(0));
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    let busy = false; // taken over by a custom reply, or holding
    socket.on('data', (d: Buffer) => {
      received[connection] = Buffer.concat([received[connection]!, d]);
      if (busy) return;
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = headEnd(buf);
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end);
        const [line, ...headerLines] = head.split('\r\n');
        const headers = parseHeaders(headerLines);
        let bodyLen = 0;
        let body: Buffer;
        const start = end + 4;
        if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
          bodyLen = chunkedLength(buf.subarray(start));
          if (bodyLen < 0) return;
          body = dechunk(buf.subarray(start, start + bodyLen));
        } else {
          bodyLen = Number(headers['content-length'] ?? 0);
          if (buf.length < start + bodyLen) return;
          body = buf.subarray(start, start + bodyLen);
        }
        const [method = '', target = ''] = line!.split(' ');
        const seen: SeenRequest = { raw: buf.subarray(0, start + bodyLen), line: line!, method, target, headers, headerLines, body, connection };
        buf = buf.subarray(start + bodyLen);
        requests.push(seen);
        const out = handler(seen, requests.length - 1);
        const reply: ScriptedReply = typeof out === 'string' || Buffer.isBuffer(out) ? { bytes: out } : out;
        if (reply.custom) { busy = true; reply.custom(socket); return; }
        const bytes = reply.bytes === undefined ? undefined : typeof reply.bytes === 'string' ? Buffer.from(reply.bytes, 'latin1') : reply.bytes;
        if (bytes && reply.delayMs) setTimeout(() => { if (!socket.destroyed) socket.write(bytes); }, reply.delayMs);
        else if (bytes) socket.write(bytes);
        if (reply.after === 'end') { busy = true; socket.end(); return; }
        if (reply.after === 'destroy') { busy = true; socket.resetAndDestroy(); return; }
        if (reply.after === 'hold') { busy = true; return; }
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port, url: `http://127.0.0.1:${port}`, server, received, requests,
    text: () => Buffer.concat(received).toString('latin1'),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
