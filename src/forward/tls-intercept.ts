/**
 * TLS interception (`intercept_tls.enabled`): after `200 Connection Established` the client's TLS
 * is terminated here with a certificate minted for the CONNECT host by the configured CA, and the
 * decrypted HTTP/1.1 requests are handed to a non-listening HTTP server that runs the listener's
 * own pipeline. Each such request is origin-form; the tunnel's authority (remembered per socket)
 * makes it `https://host:port/path`, checked and forwarded like any other request, with the real
 * server's certificate verified.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { RequestContext } from '../core/context.js';
import type { HttpListener } from '../core/http-listener.js';
import type { InterceptCa } from '../tls/intercept-ca.js';
import { setTunnel, type ForwardTarget } from './absolute-form.js';

export class TlsInterceptor {
  constructor(private readonly ca: InterceptCa, private readonly inner: HttpListener) {}

  /** Serves decrypted requests from `client` until it closes. */
  async run(ctx: RequestContext, client: Socket, head: Buffer, target: ForwardTarget): Promise<void> {
    // a client may send its ClientHello before our 200 arrived
    if (head.length) client.unshift(head);
    const tls = new TLSSocket(client, { isServer: true, ...(await this.ca.serverOptionsFor(target.host)) });
    setTunnel(tls, { target, user: ctx.slots.user });
    tls.on('error', (err: NodeJS.ErrnoException) => {
      // typically the client does not trust our CA: it aborts the handshake
      ctx.logFields.tls_error = err.code ?? err.message;
      tls.destroy();
    });
    const closed = once(tls, 'close').catch(() => undefined);
    this.inner.server.emit('connection', tls);
    await closed;
  }
}
