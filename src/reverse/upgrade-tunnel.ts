/**
 * Proxies an HTTP upgrade (WebSocket, or a protocol a route allows): the handshake goes to the upstream,
 * and only a 101 for the protocol asked (with the right Sec-WebSocket-Accept for WebSocket) turns the
 * connection into a byte tunnel. Any other 101 is 502 with both sockets closed: a tunnel the proxy did
 * not agree to would carry later requests past routes, plugins and ACLs. Other answers are relayed as
 * normal responses.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { RequestContext } from '../core/context.js';
import { downstreamResponseHeaders } from '../core/headers.js';
import { ProxyError } from '../core/errors.js';

export interface TunnelTarget { readonly url: URL; readonly tls?: import('node:tls').ConnectionOptions }

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

export function tunnelUpgrade(ctx: RequestContext, target: TunnelTarget, headers: string[], connectTimeoutMs: number): Promise<void> {
  const client = ctx.upgrade!;
  const { url } = target;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const upstreamReq = send({
      host: url.hostname, port: url.port || (url.protocol === 'https:' ? 443 : 80),
      method: ctx.req.method, path: ctx.path, headers, setHost: false, agent: false, ...target.tls,
    });
    const connectTimer = setTimeout(() => {
      upstreamReq.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    }, connectTimeoutMs);
    upstreamReq.once('socket', (s: Socket) => s.once('connect', () => clearTimeout(connectTimer)));
    upstreamReq.once('error', (err) => { clearTimeout(connectTimer); reject(err); });
    client.socket.once('close', () => upstreamReq.destroy());

    upstreamReq.once('upgrade', (res: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
      clearTimeout(connectTimer);
      const why = refused101(client.protocol, ctx.req.headers['sec-websocket-key'] as string | undefined, res);
      if (why) {
        upstream.destroy();
        ctx.upstreamStatus = 101;
        reject(new ProxyError('upstream_protocol', why));
        return;
      }
      ctx.upstreamStatus = 101;
      ctx.finalStatus = 101;
      const lines = [`HTTP/1.1 101 ${res.statusMessage || 'Switching Protocols'}`];
      const hs = handshakeHeaders(res, ctx.listener.via, ctx.id);
      for (let i = 0; i < hs.length; i += 2) lines.push(`${hs[i]}: ${hs[i + 1]}`);
      client.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (upstreamHead.length) client.socket.write(upstreamHead);
      if (client.head.length) upstream.write(client.head);
      upstream.setNoDelay(true);
      client.socket.setNoDelay(true);
      client.socket.setTimeout(0);
      upstream.pipe(client.socket).pipe(upstream);
      let open = 2;
      const closed = () => { if (--open === 0) resolve(); };
      for (const s of [upstream, client.socket]) {
        s.once('close', closed);
        s.once('error', () => { upstream.destroy(); client.socket.destroy(); });
      }
      upstream.once('end', () => client.socket.end());
      client.socket.once('end', () => upstream.end());
    });

    upstreamReq.once('response', (res: IncomingMessage) => {
      // Not a 101: relay the upstream's answer and keep no tunnel.
      clearTimeout(connectTimer);
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
