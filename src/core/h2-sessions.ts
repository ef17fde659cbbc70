/**
 * The HTTP/2 side of a listener: one node:http2 server that is never bound to a port; the listener hands
 * it the connections that chose `h2` (by ALPN, or by the cleartext preface). It holds the limits of
 * HTTP/2's own attack surface (RFC 9113 §10.5):
 * - concurrent streams and header list size: SETTINGS sent to the client and enforced by nghttp2/node;
 * - rapid reset (CVE-2023-44487): nghttp2's reset budget (`max_resets` burst, `resets_per_second`),
 *   over it the connection gets GOAWAY;
 * - CONTINUATION flood: nghttp2 ends the connection after a few CONTINUATION frames for one header block;
 * - PING and SETTINGS floods: a budget per 10 s each, counted here; over it GOAWAY ENHANCE_YOUR_CALM;
 * - idle connections (no frame for limits.idle_timeout: GOAWAY, then closed once streams are done) and
 *   stalled streams (no progress for limits.idle_timeout: RST_STREAM CANCEL).
 * WebSocket over HTTP/2 (RFC 8441) is not offered (SETTINGS_ENABLE_CONNECT_PROTOCOL stays 0), as nginx:
 * clients use HTTP/1.1 for it; an extended CONNECT is malformed to nghttp2 and gets a stream error.
 */
import { constants, createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Http2Options, Limits } from '../config/types.js';

const FLOOD_WINDOW_MS = 10_000;

/** Counts one kind of frame per window; true once the budget is spent. */
class FrameBudget {
  #count = 0;
  #windowStart = performance.now();
  constructor(private readonly max: number) {}
  spend(): boolean {
    const now = performance.now();
    if (now - this.#windowStart >= FLOOD_WINDOW_MS) { this.#windowStart = now; this.#count = 0; }
    return ++this.#count > this.max;
  }
}

export interface H2SessionsOptions {
  limits: Limits;
  http2: Http2Options;
  log: Logger;
  onRequest(req: Http2ServerRequest, res: Http2ServerResponse): void;
}

export class H2Sessions {
  readonly server: Http2Server;
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #opts: H2SessionsOptions;

  constructor(opts: H2SessionsOptions) {
    this.#opts = opts;
    const { limits, http2 } = opts;
    this.server = createServer({
      settings: {
        maxConcurrentStreams: http2.max_concurrent_streams,
        maxHeaderListSize: limits.max_header_size,
        enableConnectProtocol: false,
      },
      // pseudo-header fields count too; 0 (no limit) leaves node's own bound
      maxHeaderListPairs: limits.max_headers > 0 ? limits.max_headers + 4 : undefined,
      streamResetBurst: http2.max_resets,
      streamResetRate: http2.resets_per_second,
    });
    this.server.on('session', (session) => this.#adopt(session));
    this.server.on('request', opts.onRequest);
    this.server.on('stream', (stream) => {
      stream.on('error', () => {}); // a reset stream: the request's own handlers see it as aborted
      stream.setTimeout(limits.idle_timeout, () => stream.close(constants.NGHTTP2_CANCEL));
    });
  }

  /** Takes over a connection that speaks HTTP/2 (TLS with ALPN h2, or cleartext with the preface). */
  accept(socket: Duplex): void {
    this.server.emit('connection', socket);
  }

  get sessions(): number { return this.#sessions.size; }

  #adopt(session: ServerHttp2Session): void {
    const { http2, limits, log } = this.#opts;
    this.#sessions.add(session);
    session.once('close', () => this.#sessions.delete(session));
    session.on('error', (err: NodeJS.ErrnoException) => log.debug({ err: err.code ?? err.message }, 'http2 session error'));
    session.on('frameError', () => {});
    const pings = new FrameBudget(http2.max_pings);
    const settings = new FrameBudget(http2.max_settings);
    let flooded = false;
    const flood = (kind: string) => {
      if (flooded) return;
      flooded = true;
      log.info({ client: session.socket?.remoteAddress, flood: kind }, 'http2 flood: GOAWAY');
      session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
      setImmediate(() => session.destroy());
    };
    session.on('ping', () => { if (pings.spend()) flood('ping'); });
    session.on('remoteSettings', () => { if (settings.spend()) flood('settings'); });
    session.setTimeout(limits.idle_timeout, () => session.close());
  }

  /** GOAWAY to every session; streams in flight may finish (the listener's stop destroys what is left). */
  async stop(): Promise<void> {
    await Promise.all([...this.#sessions].map((s) => new Promise<void>((resolve) => {
      if (s.destroyed) { resolve(); return; }
      s.once('close', () => resolve());
      s.close();
    })));
  }

  /** Ends every session at once. */
  destroyAll(): void {
    for (const s of this.#sessions) s.destroy();
  }
}
