/**
 * Proxies an HTTP upgrade (WebSocket): the handshake goes to the upstream, and only a real 101 from it
 * turns the connection into a byte tunnel. Any other answer is relayed as a normal response.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { RequestContext } from '../core/context.js';
import { downstreamResponseHeaders } from '../core/headers.js';
import { ProxyError } from '../core/errors.js';

export interface TunnelTarget { readonly url: URL }

/** Keeps the handshake's own hop-by-hop fields, which the 101 must carry. */
function handshakeHeaders(res: IncomingMessage, via: string, id: string): string[] {
  const headers = downstreamResponseHeaders(res.headers, via, id);
  headers.push('connection', 'Upgrade', 'upgrade', String(res.headers.upgrade ?? 'websocket'));
  return headers;
}

export function tunnelWebSocket(ctx: RequestContext, target: TunnelTarget, headers: string[], connectTimeoutMs: number): Promise<void> {
  const client = ctx.upgrade!;
  const { url } = target;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const upstreamReq = send({
      host: url.hostname, port: url.port || (url.protocol === 'https:' ? 443 : 80),
      method: ctx.req.method, path: ctx.path, headers, setHost: false, agent: false,
    });
    const connectTimer = setTimeout(() => {
      upstreamReq.destroy(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    }, connectTimeoutMs);
    upstreamReq.once('socket', (s: Socket) => s.once('connect', () => clearTimeout(connectTimer)));
    upstreamReq.once('error', (err) => { clearTimeout(connectTimer); reject(err); });
    client.socket.once('close', () => upstreamReq.destroy());

    upstreamReq.once('upgrade', (res: IncomingMessage, upstream: Socket, upstreamHead: Buffer) => {
      clearTimeout(connectTimer);
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
