/**
 * Writes the proxy's own answers (errors and denials): status, Proxy-Status (RFC 9209), request id, and
 * a short body — HTML for clients that prefer it, plain text otherwise (answer-format.ts).
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HTML_ANSWER_HEADERS, htmlAnswer, prefersHtml } from './answer-format.js';
import { ERROR_TABLE, ProxyError, type ErrorKind } from './errors.js';
import { isHttp2Response } from './response-sink.js';
import { rawResponse } from './raw-response.js';

function proxyStatus(err: ProxyError): string {
  return `gatehouse; error=${err.proxyStatus}${err.detail ? `; details=${JSON.stringify(err.detail.replace(/[^\x20-\x7e]/g, '?'))}` : ''}`;
}

function textBody(err: ProxyError, requestId: string): string {
  return `${err.status} ${err.text}${err.detail ? `: ${err.detail}` : ''}\nrequest id: ${requestId}\n`;
}

/** What an answer may say besides the error itself. */
export interface AnswerOptions {
  /** The client's Accept header: HTML when it prefers text/html. */
  accept?: string;
  /** One sentence for people, shown on the HTML page instead of the detail. */
  message?: string;
  /** Name/value lines for the HTML page (destination, rule); the text body has them in the detail. */
  facts?: readonly (readonly [string, string])[];
  nodeId?: string;
}

/** Head and body of an answer, for stages that answer through a ResponseSink (flat header list). */
export function errorResponseParts(err: ProxyError, requestId: string, opts: AnswerOptions = {}): { headers: string[]; body: Buffer } {
  const html = prefersHtml(opts.accept);
  const body = Buffer.from(html
    ? htmlAnswer({
      title: `${err.status} ${err.text}`, message: opts.message ?? err.detail,
      facts: [...opts.facts ?? [], ['Request id', requestId]], nodeId: opts.nodeId,
    })
    : textBody(err, requestId));
  return {
    headers: [
      'content-type', html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8', 'content-length', String(body.length),
      'cache-control', 'no-store', 'proxy-status', proxyStatus(err), 'x-request-id', requestId,
      ...(html ? HTML_ANSWER_HEADERS : []),
      ...(err.retryAfter === undefined ? [] : ['retry-after', String(err.retryAfter)]),
    ],
    body,
  };
}

/**
 * Answers on a ServerResponse; returns the body bytes written (for the access log). Requests that may
 * have unread bodies or broken framing close the connection.
 */
export function sendError(res: ServerResponse, err: ProxyError, requestId: string, extraHeaders: string[] = [], nodeId?: string): number {
  const { headers, body } = errorResponseParts(err, requestId, { accept: res.req?.headers.accept, nodeId });
  headers.push(...extraHeaders);
  // HTTP/2 streams are independent: the connection stays (and the field does not exist there)
  const closes = err.status === 400 || err.status === 408 || err.status === 413 || err.status === 431 || err.status === 505;
  if (closes && !isHttp2Response(res)) headers.push('connection', 'close');
  res.writeHead(err.status, headers);
  if (res.req?.method === 'HEAD') { res.end(); return 0; }
  res.end(body);
  return body.length;
}

/** Answers on a raw socket, for errors found before node:http made a request (parse errors, header timeout): text. */
export function sendRawError(socket: Socket, kind: ErrorKind, requestId: string): void {
  const err = new ProxyError(kind);
  socket.end(rawResponse(err.status, ERROR_TABLE[kind].text, [
    'content-type', 'text/plain; charset=utf-8', 'proxy-status', proxyStatus(err), 'x-request-id', requestId,
  ], textBody(err, requestId)));
}
