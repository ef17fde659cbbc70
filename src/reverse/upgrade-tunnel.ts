/**
 * Proxies an HTTP upgrade (WebSocket, or a protocol a route allows): the handshake goes to the upstream,
 * and only a 101 for the protocol asked (with the right Sec-WebSocket-Accept for WebSocket) turns the
 * connection into a byte tunnel. Any other 101 is 502 with both sockets closed: a tunnel the proxy did
 * not agree to would carry later requests past routes, plugins and ACLs. Other answers are relayed as
 * normal responses.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { rawHead } from '../core/raw-response.js';
import { dialUrl, relay } from '../core/tunnel.js';
import type { RequestContext } from '../core/context.js';
import { downstreamResponseHeaders } from '../core/headers.js';
import { ProxyError } from '../core/errors.js';

export interface TunnelTarget { readonly url: URL; readonly tls?: ConnectionOptions }

/** RFC 6455 §4.2.2: the accept key a server must answer to a Sec-WebSocket-Key. */
function webSocketAccept(key: string): string {
  return createHash('sha1').update(`${key.trim()}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/** Why a 101 does not switch to what the client asked, or undefined when it does. */
function refused101(protocol: string, requestKey: string | undefined, res: IncomingMessage): string | undefined {
  const answered = String(res.headers.upgrade ?? '').trim().toLowerCase();
  if (answered !== protocol) return `the upstream switched to ${JSON.stringify(answered)}, not ${protocol}`;
  if (protocol === 'websocket' && (requestKey === undefined || res.headers['sec-websocket-accept'] !== webSocketAccept(requestKey))) {
    return 'the upstream answered a WebSocket upgrade without the right Sec-WebSocket-Accept';
  }
  return undefined;
}

/** Keeps the handshake's own hop-by-hop fields, which the 101 must carry. */
function handshakeHeaders(res: IncomingMessage, via: string, id: string): string[] {
  const headers = downstreamResponseHeaders(res.headers, via, id);
  headers.push('connection', 'Upgrade', 'upgrade', String(res.headers.upgrade));
  return headers;
}

/**
 * Opens the connection for the handshake with the shared dialer (the connect deadline covers the TCP
 * connect), with TLS on top for an https upstream: SNI and the certificate check are for the URL's host
 * unless the pool sets `servername`, as for the pool's other requests.
 */
async function openConnection(target: TunnelTarget, connectTimeoutMs: number): Promise<Duplex> {
  const socket = await dialUrl(target.url, connectTimeoutMs);
  if (target.url.protocol !== 'https:') return socket;
  const host = target.url.hostname.replace(/^\[|\]$/g, '');
  return tlsConnect({ socket, host, servername: isIP(host) ? undefined : host, ...target.tls });
}

export async function tunnelUpgrade(ctx: RequestContext, target: TunnelTarget, headers: string[], connectTimeoutMs: number): Promise<void> {
  const client = ctx.upgrade!;
  const connection = await openConnection(target, connectTimeoutMs);
  if (client.socket.destroyed) {
    connection.destroy();
    throw new ProxyError('client_closed');
  }
  return new Promise((resolve, reject) => {
    const upstreamReq = httpRequest({
      method: ctx.req.method, path: ctx.path, headers, setHost: false, createConnection: () => connection,
    });
    upstreamReq.once('error', reject);
    client.socket.once('close', () => upstreamReq.destroy());

    upstreamReq.once('upgrade', (res: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
      const why = refused101(client.protocol, ctx.req.headers['sec-websocket-key'] as string | undefined, res);
      if (why) {
        upstream.destroy();
        ctx.upstreamStatus = 101;
        reject(new ProxyError('upstream_protocol', why));
        return;
      }
      ctx.upstreamStatus = 101;
      ctx.finalStatus = 101;
      client.socket.write(rawHead(101, res.statusMessage || 'Switching Protocols', handshakeHeaders(res, ctx.listener.via, ctx.id)));
      if (upstreamHead.length) client.socket.write(upstreamHead);
      if (client.head.length) upstream.write(client.head);
      // no idle limit: a quiet WebSocket is a normal one (its own pings keep it honest)
      relay(client.socket, upstream, 0).then((r) => {
        ctx.logFields.bytes_up = r.up;
        ctx.logFields.bytes_down = r.down;
        if (r.reason) ctx.logFields.tunnel_end = r.reason;
        resolve();
      }, reject);
    });

    upstreamReq.once('response', (res: IncomingMessage) => {
      // Not a 101: relay the upstream's answer and keep no tunnel.
      if (res.statusCode === 101) { // a 101 without Upgrade: switches to nothing the client asked
        res.socket.destroy();
        reject(new ProxyError('upstream_protocol', 'the upstream answered 101 without Upgrade'));
        return;
      }
      ctx.upstreamStatus = res.statusCode;
      const hs = downstreamResponseHeaders(res.headers, ctx.listener.via, ctx.id);
      ctx.res.shouldKeepAlive = false;
      ctx.sink.head(res.statusCode ?? 502, hs);
      res.on('data', (chunk: Buffer) => { if (!ctx.sink.data(chunk)) { res.pause(); ctx.sink.onDrain(() => res.resume()); } });
      res.once('end', () => { ctx.sink.end(); resolve(); });
      res.once('error', (e) => reject(new ProxyError('connection_terminated', '', { cause: e })));
    });
    upstreamReq.end();
  });
}
