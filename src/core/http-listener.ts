/**
 * An HTTP or HTTPS listener: applies the listener's limits, turns each request (and each upgrade request)
 * into a RequestContext and runs it through the listener's pipeline. Errors found by node:http before a
 * request exists (malformed head 400, head too large 431, head too slow 408) are answered here.
 */
import { createServer as createHttpServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { listenOn } from './listen.js';
import type { Limits } from '../config/types.js';
import { parseListen } from '../config/shape.js';
import { RequestContext, type ClientCertInfo, type ListenerInfo, type TlsInfo } from './context.js';
import { sendError, sendRawError } from './error-response.js';
import { ProxyError, type ErrorKind } from './errors.js';
import type { Pipeline } from './pipeline.js';
import { requestIdFor } from './request-id.js';
import { peerAddress } from './client-address.js';
import { afterPendingResponses, inConnectionOrder } from './connection-order.js';
import { limitConnectionsPerIp, perIpLimit } from './connection-limits.js';
import { closeIfStalled } from './send-timeout.js';
import { dropSlowBody } from './body-watch.js';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { constants as h2constants } from 'node:http2';
import type { Http2Options } from '../config/types.js';
import { adoptH2Request, adoptH2Response } from './h2-compat.js';
import { H2Sessions } from './h2-sessions.js';
import { routeByPreface } from './h2-preface.js';

export interface HttpListenerOptions {
  listen: string;
  limits: Limits;
  info: ListenerInfo;
  /** Read per request, so a reload can swap the pipeline under a running server. */
  pipeline: () => Pipeline;
  tls?: HttpsOptions;
  /** CONNECT requests (forward mode); without it CONNECT is answered 405 by node. */
  onConnect?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * Whether an upgrade to this protocol (lower-case token) may become a tunnel. Requests asking any other
   * upgrade, or several at once, are served as plain requests without Upgrade (RFC 9110 §7.8 lets a server
   * ignore it); without this option no upgrade is ever taken.
   */
  acceptsUpgrade?: (protocol: string) => boolean;
  /** Called before the pipeline: a listener may answer a request itself (e.g. /proxy.pac) by returning true. */
  intercept?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** HTTP/2 to clients: by ALPN with `tls`, by the connection preface with `cleartext`. */
  http2?: Http2Options;
}

const tlsInfoKey = Symbol('gatehouse.tlsInfo');

function tlsInfo(socket: Socket): TlsInfo | null {
  const s = socket as TLSSocket & { [tlsInfoKey]?: TlsInfo };
  if (!s.encrypted) return null;
  return (s[tlsInfoKey] ??= {
    version: s.getProtocol() ?? '',
    cipher: s.getCipher()?.name ?? '',
    sni: (s as TLSSocket & { servername?: string | false }).servername || '',
    client: clientCert(s),
  });
}

/** The peer certificate of an mTLS connection; undefined when none was asked for or presented. */
function clientCert(s: TLSSocket): ClientCertInfo | undefined {
  const x509 = s.getPeerX509Certificate?.();
  if (!x509) return undefined;
  // one line, RFC 4514 order is not what node gives; `CN=a, O=b` reads well in logs and rules
  const subject = x509.subject.split('\n').filter(Boolean).join(', ');
  return { subject, fingerprint256: x509.fingerprint256, verified: s.authorized };
}


/**
 * The one protocol a request asks to upgrade to, when the listener takes it; h2c never (cleartext HTTP/2
 * would bypass everything the proxy checks per request).
 */
function upgradeProtocol(req: IncomingMessage, accepts: ((protocol: string) => boolean) | undefined): string | undefined {
  const value = req.headers.upgrade;
  if (!accepts || value === undefined || value.includes(',')) return undefined;
  const protocol = value.trim().toLowerCase();
  return protocol !== '' && protocol !== 'h2c' && accepts(protocol) ? protocol : undefined;
}

/**
 * HTTP/1.x only. llhttp reads a request line without a version (`GET /x`) as HTTP/0.9 and still parses
 * headers after it: refused (400), as is any other major version (505, RFC 9110 §15.6.6); the h2
 * preface (`PRI * HTTP/2.0`) never gets here, llhttp refuses it.
 */
export function versionError(req: IncomingMessage): ProxyError | undefined {
  if (req.httpVersionMajor === 1) return undefined;
  return req.httpVersionMajor === 0
    ? new ProxyError('bad_request', 'HTTP/0.9 is not supported')
    : new ProxyError('version_not_supported', `HTTP/${req.httpVersionMajor}.${req.httpVersionMinor} over HTTP/1 framing`);
}

/** Answers a request this listener refuses before any pipeline sees it, and closes the connection. */
export function refuse(req: IncomingMessage, res: ServerResponse, err: ProxyError, log: ListenerInfo['log']): void {
  const id = requestIdFor(undefined);
  res.shouldKeepAlive = false;
  req.resume();
  sendError(res, err, id);
  log.info({ reqId: id, client: peerAddress(req.socket), error: err.proxyStatus, detail: err.detail }, 'request refused');
}

const CLIENT_ERROR_KIND: Record<string, ErrorKind> = {
  HPE_HEADER_OVERFLOW: 'headers_too_large',
  ERR_HTTP_REQUEST_TIMEOUT: 'header_timeout',
};

export class HttpListener {
  readonly server: Server;
  readonly #opts: HttpListenerOptions;
  #inflight = 0;
  /** Sockets taken over by upgrades (WebSockets): node:http no longer tracks them. */
  readonly #upgraded = new Set<Socket>();
  /** The HTTP/2 side, when this listener speaks it. */
  readonly #h2?: H2Sessions;

  constructor(opts: HttpListenerOptions) {
    this.#opts = opts;
    const { limits } = opts;
    const serverOptions = {
      maxHeaderSize: limits.max_header_size,
      headersTimeout: limits.header_timeout,
      requestTimeout: 0,
      keepAliveTimeout: limits.idle_timeout,
      // node checks header timeouts on this interval; the default (30 s) is far too coarse for 408s.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.header_timeout / 4))),
      noDelay: true,
      requireHostHeader: false,
      shouldUpgradeCallback: (req: IncomingMessage) => upgradeProtocol(req, opts.acceptsUpgrade) !== undefined,
    };
    const h2 = opts.http2 && (opts.tls || opts.http2.cleartext) ? opts.http2 : undefined;
    this.server = opts.tls
      ? createHttpsServer({ ...serverOptions, ...opts.tls, ...(h2 ? { ALPNProtocols: ['h2', 'http/1.1'] } : {}) })
      : createHttpServer(serverOptions);
    if (h2) {
      const sessions = new H2Sessions({ limits, http2: h2, log: opts.info.log, onRequest: (req, res) => this.#handleH2(req, res) });
      this.#h2 = sessions;
      // the HTTP/1.1 server keeps its own connection handling; connections that chose h2 go to the h2 side
      const event = opts.tls ? 'secureConnection' : 'connection';
      const http1 = this.server.listeners(event) as ((socket: Socket) => void)[];
      this.server.removeAllListeners(event);
      const toHttp1 = (socket: Socket) => { for (const l of http1) l.call(this.server, socket); };
      this.server.on(event, opts.tls
        ? (socket: TLSSocket) => { if (socket.alpnProtocol === 'h2') sessions.accept(socket); else toHttp1(socket); }
        : (socket: Socket) => routeByPreface(socket, limits.header_timeout, (isH2) => { if (isH2) sessions.accept(socket); else toHttp1(socket); }));
    }
    this.server.maxConnections = limits.max_connections;
    // node drops fields past maxHeadersCount silently: one more than the limit lets #start see the excess
    this.server.maxHeadersCount = limits.max_headers > 0 ? limits.max_headers + 1 : 0;
    const perIp = perIpLimit(limits.max_connections_per_ip, limits.per_ip_exempt);
    limitConnectionsPerIp(this.server, () => perIp, this.#opts.info.log);
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res));
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#handleUpgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => this.#clientError(err, socket));
    // without a CONNECT handler node would close the socket without a word
    this.server.on('connect', opts.onConnect ?? ((req: IncomingMessage, socket: Socket) => {
      const id = requestIdFor(undefined);
      socket.on('error', () => socket.destroy());
      sendRawError(socket, 'method_not_allowed', id);
      this.#opts.info.log.info({ reqId: id, client: peerAddress(socket), method: req.method, error: 'method_not_allowed' }, 'CONNECT refused');
    }));
  }

  get inflight(): number { return this.#inflight; }

  get address(): { host: string; port: number } {
    const a = this.server.address();
    if (a && typeof a === 'object') return { host: a.address, port: a.port };
    return parseListen(this.#opts.listen);
  }

  async start(): Promise<void> {
    await listenOn(this.server, this.#opts.listen, this.#opts.info.name);
  }

  /** Stops accepting, lets in-flight requests finish up to `timeoutMs`, then closes what is left. */
  async stop(timeoutMs: number): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const h2Closed = this.#h2?.stop();
    this.server.closeIdleConnections();
    const timer = setTimeout(() => {
      this.server.closeAllConnections();
      for (const s of this.#upgraded) s.destroy();
      this.#h2?.destroyAll();
    }, timeoutMs);
    const idle = setInterval(() => this.server.closeIdleConnections(), 100);
    await closed;
    await h2Closed;
    clearTimeout(timer);
    clearInterval(idle);
  }

  #run(ctx: RequestContext): void {
    this.#inflight++;
    // one `then` per request instead of a catch and a finally (two promises)
    this.#opts.pipeline()(ctx).then(() => {
      this.#inflight--;
      // handed over whole but not yet taken by the client (a cached body, say): send_timeout still applies
      if (ctx.res.writableLength > 0) closeIfStalled(ctx.res, this.#opts.limits.send_timeout);
      // answered without reading the body (respond route, refusal): node reads and drops the rest, which
      // the body timeouts bound too
      if (!ctx.req.complete && !ctx.upgrade) dropSlowBody(ctx.req, this.#opts.limits);
    }, (err) => {
      this.#inflight--;
      // The error responder handles everything; reaching here is a bug, so never leave the client hanging.
      ctx.listener.log.error({ err, reqId: ctx.id }, 'pipeline failed');
      if (!ctx.res.headersSent) { ctx.res.statusCode = 500; ctx.res.end(); } else ctx.res.destroy();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    inConnectionOrder(req, res, () => this.#start(req, res));
  }

  #start(req: IncomingMessage, res: ServerResponse): void {
    const bad = versionError(req) ?? this.#tooManyHeaders(req);
    if (bad) { refuse(req, res, bad, this.#opts.info.log); return; }
    if (this.#opts.intercept?.(req, res)) return;
    const id = requestIdFor(req.headers['x-request-id']);
    this.#run(new RequestContext(id, req, res, this.#opts.info, peerAddress(req.socket), tlsInfo(req.socket)));
  }

  /**
   * An HTTP/2 stream: a malformed request is a stream error (never forwarded); CONNECT (and so WebSocket
   * over HTTP/2) is refused; anything else runs the same pipeline as HTTP/1.1. No ordering across streams.
   */
  #handleH2(h2req: Http2ServerRequest, h2res: Http2ServerResponse): void {
    const req = adoptH2Request(h2req);
    if (typeof req === 'string') {
      this.#opts.info.log.info({ client: h2req.socket?.remoteAddress, error: 'malformed_http2_request', detail: req }, 'request refused');
      h2req.stream.close(h2constants.NGHTTP2_PROTOCOL_ERROR);
      return;
    }
    const res = adoptH2Response(h2res);
    const bad = req.method === 'CONNECT'
      ? new ProxyError('method_not_allowed', 'CONNECT is not served on this listener')
      : this.#tooManyHeaders(req);
    if (bad) { refuse(req, res, bad, this.#opts.info.log); return; }
    if (this.#opts.intercept?.(req, res)) return;
    const id = requestIdFor(req.headers['x-request-id']);
    this.#run(new RequestContext(id, req, res, this.#opts.info, peerAddress(req.socket), tlsInfo(req.socket)));
  }

  #handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // A ServerResponse on the raw socket lets the pipeline answer refusals (403, 502…) as usual.
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    res.shouldKeepAlive = false;
    const bad = versionError(req) ?? this.#tooManyHeaders(req);
    if (bad) { refuse(req, res, bad, this.#opts.info.log); res.once('finish', () => socket.end()); return; }
    const id = requestIdFor(req.headers['x-request-id']);
    const ctx = new RequestContext(id, req, res, this.#opts.info, peerAddress(socket), tlsInfo(socket));
    ctx.upgrade = { socket, head, protocol: upgradeProtocol(req, this.#opts.acceptsUpgrade) ?? '' };
    socket.on('error', () => socket.destroy());
    this.#upgraded.add(socket);
    socket.once('close', () => this.#upgraded.delete(socket));
    // When the pipeline answers with a normal response (refusal, error, non-101), close after it.
    res.once('finish', () => { if (ctx.finalStatus !== 101) socket.end(); });
    this.#run(ctx);
  }

  #tooManyHeaders(req: IncomingMessage): ProxyError | undefined {
    const max = this.#opts.limits.max_headers;
    return max > 0 && req.rawHeaders.length > 2 * max ? new ProxyError('headers_too_large', `more than ${max} header fields`) : undefined;
  }

  #clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return; }
    const kind = CLIENT_ERROR_KIND[err.code ?? ''] ?? 'bad_request';
    const id = requestIdFor(undefined);
    // a pipelined request before the bad bytes may still be answering: its response goes first
    afterPendingResponses(socket, err,
      () => { if (socket.writable) sendRawError(socket, kind, id); else socket.destroy(); },
      (res) => sendError(res, new ProxyError(kind, 'malformed request body'), id));
    this.#opts.info.log.info({ reqId: id, client: peerAddress(socket), listener: this.#opts.info.name, error: kind, code: err.code }, 'client error');
  }
}
