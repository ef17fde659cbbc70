/**
 * Sends one request to an upstream with undici's low-level dispatch and streams the response into the
 * context's sink, with backpressure both ways. No body is ever buffered whole.
 * Resolves when the response is complete; rejects with `responded` telling whether any response byte
 * reached the sink (a request is retryable only when it did not).
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Dispatcher } from 'undici';
import type { RequestContext } from './context.js';
import { downstreamResponseHeaders, HOP_BY_HOP, removeHeader } from './headers.js';
import { relayedTransferCodings } from './response-framing.js';
import { rawHead } from './raw-response.js';
import { ProxyError, toProxyError } from './errors.js';
import { onClientGone } from './client-gone.js';
import { SendTimer } from './send-timeout.js';

export interface UpstreamTarget {
  readonly dispatcher: Dispatcher;
  /** Origin for undici (scheme://host:port). */
  readonly origin: string;
}

export class UpstreamRequestError extends Error {
  constructor(override readonly cause: unknown, readonly responded: boolean) {
    super((cause as Error)?.message ?? 'upstream request failed');
  }
}

export interface UpstreamResult { status: number; headMs: number }

/** An undici dispatch handler that streams the response into the context's sink. */
class StreamHandler implements Dispatcher.DispatchHandler {
  #controller?: Dispatcher.DispatchController;
  #responded = false;
  #status = 0;
  #headMs = 0;
  /** Made on first backpressure only: most responses never wait for the client. */
  #onResume?: () => void;
  #sendTimer?: SendTimer;
  /** Why the request was aborted before undici gave us its controller. */
  #abortReason?: Error;
  readonly #stopWatching: () => void;

  constructor(
    private readonly ctx: RequestContext,
    private readonly startMs: number,
    private readonly opts: UpstreamRequestOptions,
    private readonly resolve: (r: UpstreamResult) => void,
    private readonly reject: (e: UpstreamRequestError) => void,
  ) {
    // a client that leaves aborts the upstream request: undici then destroys that connection instead of
    // returning it to the pool with unread bytes
    this.#stopWatching = onClientGone(ctx.res, () => this.abort(new ProxyError('client_closed')));
  }

  /** Aborts the upstream request (client gone, send or body timeout). */
  abort(reason: Error): void {
    if (this.#controller) this.#controller.abort(reason);
    else this.#abortReason ??= reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason) controller.abort(this.#abortReason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[]>, statusText?: string): void {
    const ctx = this.ctx;
    if (status < 200) { this.#interim(status, headers, statusText ?? ''); return; }
    const codings = relayedTransferCodings(headers);
    // aborting mid-head destroys the upstream connection: nothing after this response is read from it
    if (codings instanceof ProxyError) { controller.abort(codings); return; }
    // HTTP/2 has no transfer codings (RFC 9113 §8.2.2): coded bytes cannot pass as plain ones
    if (codings.length && ctx.protocol === 'HTTP/2') { controller.abort(new ProxyError('upstream_protocol', `transfer coding ${codings.join(', ')} cannot be relayed over HTTP/2`)); return; }
    this.#responded = true;
    this.#status = status;
    this.#headMs = performance.now() - this.startMs;
    const list = downstreamResponseHeaders(headers, ctx.listener.via, ctx.id);
    const bodyless = status === 204 || status === 304 || ctx.req.method === 'HEAD';
    if (codings.length && !bodyless) list.push('transfer-encoding', `${codings.join(', ')}, chunked`);
    if (status === 204) removeHeader(list, 'content-length'); // RFC 9110 §8.6: never on a 204
    if (ctx.extraResponseHeaders) list.push(...ctx.extraResponseHeaders);
    ctx.upstreamStatus = status;
    ctx.sink.head(status, list);
  }

  /**
   * Relays an interim response (102, 103 Early Hints…) as RFC 9110 §15.2 asks, straight to the client:
   * never through the sinks, so no cache stores it and none of its fields join the final response.
   * Not to HTTP/1.0 clients, which do not expect them.
   */
  #interim(status: number, headers: Record<string, string | string[]>, statusText: string): void {
    const res = this.ctx.res;
    if (res.headersSent || this.ctx.upgrade || status === 101) return;
    if (this.ctx.protocol === 'HTTP/2') {
      const fields: Record<string, string | string[] | number> = { ':status': status };
      for (const name in headers) if (!HOP_BY_HOP.has(name)) fields[name] = headers[name]!;
      const stream = (res as unknown as Http2ServerResponse).stream;
      // a stream the client already reset takes nothing (node would throw)
      if (!stream.destroyed && !stream.headersSent) stream.additionalHeaders(fields);
      return;
    }
    if (this.ctx.req.httpVersionMinor < 1) return;
    const list: string[] = [];
    for (const name in headers) {
      if (HOP_BY_HOP.has(name)) continue;
      const v = headers[name]!;
      if (typeof v === 'string') list.push(name, v); else for (const x of v) list.push(name, x);
    }
    // node:http has no public call for an arbitrary 1xx (only 102 and a Link-only 103): the same raw write they use
    (res as unknown as { _writeRaw(data: string, encoding: string): void })._writeRaw(rawHead(status, statusText || 'Informational', list), 'latin1');
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.ctx.sink.data(chunk)) return;
    controller.pause();
    this.#sendTimer ??= new SendTimer(this.ctx.res, this.opts.sendTimeout ?? 0, () => this.abort(new ProxyError('send_timeout')));
    this.#sendTimer.arm();
    this.ctx.sink.onDrain(this.#onResume ??= () => { this.#sendTimer?.disarm(); this.#controller?.resume(); });
  }

  onResponseEnd(_c: Dispatcher.DispatchController, trailers: Record<string, string | string[]>): void {
    this.#done();
    // trailers go to the client as they came (node sends them only where the framing has room: chunked, HTTP/2)
    if (trailers && Object.keys(trailers).length) this.ctx.res.addTrailers(relayedTrailers(trailers));
    this.ctx.sink.end();
    this.resolve({ status: this.#status, headMs: this.#headMs });
  }

  #done(): void {
    this.#stopWatching();
    this.#sendTimer?.disarm();
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.#done();
    if (this.#responded) this.ctx.sink.abort(err);
    this.reject(new UpstreamRequestError(err, this.#responded));
  }
}

export interface UpstreamRequestOptions {
  method: string;
  path: string;
  headers: string[];
  /** Request body stream, or null when the request has none. */
  body: NodeJS.ReadableStream | null;
  /** send_timeout, ms (0 = none): the longest a client may take no byte while the response waits. */
  sendTimeout?: number;
  /** Aborts the upstream request with the signal's reason (e.g. a request body timeout). */
  signal?: AbortSignal;
}

export function sendUpstream(ctx: RequestContext, target: UpstreamTarget, opts: UpstreamRequestOptions): Promise<UpstreamResult> {
  return new Promise((resolve, reject) => {
    // a body that failed before anyone read it (client gone, broken framing): nothing to send
    const failed = (opts.body as { errored?: Error | null } | null)?.errored;
    if (failed) { reject(new UpstreamRequestError(failed, false)); return; }
    const handler = new StreamHandler(ctx, performance.now(), opts, resolve, reject);
    const signal = opts.signal;
    if (signal) {
      if (signal.aborted) handler.abort(signal.reason as Error);
      else signal.addEventListener('abort', () => handler.abort(signal.reason as Error), { once: true });
    }
    target.dispatcher.dispatch({
      origin: target.origin,
      method: opts.method as Dispatcher.HttpMethod,
      path: opts.path,
      headers: opts.headers,
      body: opts.body as never,
    }, handler);
  });
}

/** Failures before any connection existed: the upstream never saw the request, so any method may go elsewhere (nginx, Envoy). */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

export function neverReachedUpstream(code: string): boolean {
  return NOT_CONNECTED.has(code);
}

/** Whether a request body stream is still unread, so the request can be sent again elsewhere. */
export function bodyUnread(body: NodeJS.ReadableStream | null): boolean {
  return body === null || !(body as { readableDidRead?: boolean }).readableDidRead;
}

/** Trailer fields the client may receive: no hop-by-hop or framing fields. */
function relayedTrailers(trailers: Record<string, string | string[]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in trailers) if (!HOP_BY_HOP.has(name) && name !== 'content-length') out[name] = trailers[name]!;
  return out;
}

/**
 * Whether the request carries a body: on HTTP/2 unless its HEADERS ended the stream (a body needs no
 * Content-Length there); on HTTP/1.1 as RFC 9112 §6.3 says.
 */
export function requestHasBody(req: IncomingMessage): boolean {
  const stream = (req as unknown as Http2ServerRequest).stream as { endAfterHeaders?: boolean } | undefined;
  if (req.httpVersionMajor === 2 && stream) return !stream.endAfterHeaders;
  return hasRequestBody(req.headers);
}

/** Whether an HTTP/1.x request carries a body (RFC 9112 §6.3). */
function hasRequestBody(headers: NodeJS.Dict<string | string[]>): boolean {
  const len = headers['content-length'];
  return (len !== undefined && len !== '0') || headers['transfer-encoding'] !== undefined;
}

/**
 * The client's error, when a failed attempt was the client's doing (a malformed or oversized request, a
 * body that broke its framing, a client that went away mid-body): answered as such (400, 413, 499) and
 * never counted against the upstream. Undefined when the failure is the upstream's.
 */
export function clientFailure(ctx: RequestContext, cause: unknown): ProxyError | undefined {
  const err = toProxyError(cause);
  if (err.status < 500) return err;
  const req = ctx.req;
  if (!req.errored && !req.readableAborted) return undefined;
  const code = (req.errored as { code?: string } | null)?.code ?? '';
  return code.startsWith('HPE_') ? new ProxyError('bad_request', 'malformed request body', { cause: req.errored }) : new ProxyError('client_closed');
}
