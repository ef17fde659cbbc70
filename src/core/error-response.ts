/** Writes the proxy's own error responses: status, Proxy-Status (RFC 9209), request id, short body. */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ERROR_TABLE, ProxyError, type ErrorKind } from './errors.js';

function proxyStatus(err: ProxyError): string {
  return `gatehouse; error=${err.proxyStatus}${err.detail ? `; details=${JSON.stringify(err.detail.replace(/[^\x20-\x7e]/g, '?'))}` : ''}`;
}

function body(err: ProxyError, requestId: string): string {
  return `${err.status} ${err.text}${err.detail ? `: ${err.detail}` : ''}\nrequest id: ${requestId}\n`;
}

/** Head and body of an error response, for stages that answer through a ResponseSink (flat header list). */
export function errorResponseParts(err: ProxyError, requestId: string): { headers: string[]; body: Buffer } {
  const text = Buffer.from(body(err, requestId));
  return {
    headers: ['content-type', 'text/plain; charset=utf-8', 'content-length', String(text.length), 'cache-control', 'no-store',
      'proxy-status', proxyStatus(err), 'x-request-id', requestId],
    body: text,
  };
}

/** Answers on a ServerResponse. Requests that may have unread bodies or broken framing close the connection. */
export function sendError(res: ServerResponse, err: ProxyError, requestId: string, extraHeaders: string[] = []): void {
  const text = body(err, requestId);
  const headers = [
    'content-type', 'text/plain; charset=utf-8',
    'content-length', String(Buffer.byteLength(text)),
    'cache-control', 'no-store',
    'proxy-status', proxyStatus(err),
    'x-request-id', requestId,
    ...extraHeaders,
  ];
  if (err.retryAfter !== undefined) headers.push('retry-after', String(err.retryAfter));
  if (err.status === 400 || err.status === 408 || err.status === 413 || err.status === 431 || err.status === 505) headers.push('connection', 'close');
  res.writeHead(err.status, headers);
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

/** Answers on a raw socket, for errors found before node:http made a request (parse errors, header timeout). */
export function sendRawError(socket: Socket, kind: ErrorKind, requestId: string): void {
  const err = new ProxyError(kind);
  const text = body(err, requestId);
  socket.end(
    `HTTP/1.1 ${err.status} ${ERROR_TABLE[kind].text}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(text)}\r\nproxy-status: ${proxyStatus(err)}\r\nx-request-id: ${requestId}\r\n` +
    `connection: close\r\n\r\n${text}`,
  );
}
