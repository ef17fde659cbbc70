/**
 * CONNECT in a forward listener. `connectTargetStage` parses the authority (`host:port`), then the
 * shared auth and access-control stages run (CONNECT only to connect_ports, ACL with method
 * CONNECT, block list by host), then `connectStage` opens the upstream connection — direct to the
 * address the SSRF guard checked, or through the parent — and only once it is connected answers
 * `200 Connection Established` and relays bytes both ways. Failures before that are ordinary error
 * responses (502/504 with Proxy-Status, 403 for policy); the access-log line comes when the tunnel
 * closes: `ms` is how long it was open, `bytes_up`/`bytes_down` the bytes each way, `bytes` = `bytes_down`.
 */
import type { Socket } from 'node:net';
import { ProxyError } from '../core/errors.js';
import type { Stage } from '../core/pipeline.js';
import { makeTarget, setTarget, targetOf } from './absolute-form.js';
import type { ForwardPolicy } from './forward-policy.js';
import { ssrfError } from './forward-stage.js';
import { splitHostPort } from '../core/host.js';
import { dial, relay } from '../core/tunnel.js';
import { rawHead } from '../core/raw-response.js';
import type { TlsInterceptor } from './tls-intercept.js';

const ESTABLISHED = rawHead(200, 'Connection Established');

export const connectTargetStage: Stage = {
  name: 'connect-target',
  handle(ctx, next) {
    const authority = ctx.req.url ?? '';
    const split = splitHostPort(authority);
    const target = split && makeTarget('https', split.host, split.port);
    if (!target) throw new ProxyError('bad_request', `CONNECT needs host:port, got ${JSON.stringify(authority.slice(0, 100))}`);
    setTarget(ctx, target);
    return next();
  },
};

export function connectStage(policy: ForwardPolicy, interceptor: TlsInterceptor | undefined): Stage {
  const { connect_timeout: connectTimeoutMs, connect_idle_timeout: idleMs } = policy.cfg;
  return {
    name: 'connect',
    async handle(ctx) {
      const t = targetOf(ctx)!;
      const client = ctx.upgrade!.socket;
      const head = ctx.upgrade!.head;
      const parent = policy.parentFor(t.host);
      let address: string | undefined;
      if (!parent) {
        const v = await policy.ssrf.resolveAndCheck(t.host, t.port);
        if ('denied' in v) throw ssrfError(v);
        address = v.address;
      }
      if (interceptor) {
        // decrypted requests are checked and dialled one by one by the HTTP pipeline
        if (client.destroyed) throw new ProxyError('client_closed');
        client.write(ESTABLISHED);
        ctx.finalStatus = 200;
        ctx.logFields.intercepted = true;
        const [read0, written0] = [client.bytesRead, client.bytesWritten];
        try {
          await interceptor.run(ctx, client, head, t);
        } finally {
          // the TLS bytes each way; each decrypted request has its own access line
          ctx.logFields.bytes_up = client.bytesRead - read0 + head.length;
          ctx.logFields.bytes_down = client.bytesWritten - written0;
        }
        return;
      }
      let upstream: Socket;
      if (parent) {
        upstream = await parent.connect(t.authority, connectTimeoutMs);
        ctx.upstream = { id: `parent ${parent.origin}` };
      } else {
        upstream = await dial(address!, t.port, connectTimeoutMs);
        ctx.upstream = { id: `${address!.includes(':') ? `[${address}]` : address}:${t.port}` };
      }
      ctx.upstreamMs = performance.now() - ctx.startMs;
      if (client.destroyed) {
        upstream.destroy();
        throw new ProxyError('client_closed');
      }
      client.write(ESTABLISHED);
      ctx.finalStatus = 200;
      ctx.upstreamStatus = 200;
      if (head.length) upstream.write(head);
      const r = await relay(client, upstream, idleMs);
      ctx.logFields.bytes_up = r.up;
      ctx.logFields.bytes_down = r.down;
      ctx.clientSink.bytes += r.down; // `bytes` is what the client was sent, here through the tunnel
      if (r.reason) ctx.logFields.tunnel_end = r.reason;
    },
  };
}
