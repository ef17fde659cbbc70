/**
 * Stages of reverse listeners that concern TLS: ACME HTTP-01 answers and the https redirect on plain
 * listeners, and the refusal of an invalid client certificate on `client_cert: optional` TLS listeners.
 */
import type { TLSSocket } from 'node:tls';
import { ProxyError } from '../core/errors.js';
import type { Stage } from '../core/pipeline.js';
import { CHALLENGE_PREFIX, type Http01Responder } from '../tls/acme/http01.js';
import { normaliseHost } from '../core/host.js';

/** Answers `/.well-known/acme-challenge/TOKEN` for tokens this proxy (or a process sharing its ACME directory) holds. */
export function acmeChallengeStage(http01: Http01Responder): Stage {
  return {
    name: 'acme-http01',
    handle(ctx, next) {
      const method = ctx.req.method;
      if ((method !== 'GET' && method !== 'HEAD') || !ctx.path.startsWith(CHALLENGE_PREFIX)) return next();
      const value = http01.lookup(ctx.path.slice(CHALLENGE_PREFIX.length));
      if (value === undefined) return next();
      ctx.logFields.acme_challenge = true;
      ctx.sink.head(200, ['content-type', 'application/octet-stream', 'content-length', String(Buffer.byteLength(value)), 'cache-control', 'no-store', 'x-request-id', ctx.id]);
      if (method === 'GET') ctx.sink.data(Buffer.from(value));
      ctx.sink.end();
      return Promise.resolve();
    },
  };
}

/**
 * 308 to the same URL on https (308 keeps the method and body, unlike 301). The port is dropped: the TLS
 * front listens on 443, as nginx's `return 308 https://$host$request_uri` assumes.
 */
export const redirectHttpsStage: Stage = {
  name: 'redirect-https',
  handle(ctx) {
    const host = normaliseHost(ctx.req.headers.host);
    if (!host) throw new ProxyError('bad_request', 'a Host header is needed to redirect to https');
    const location = `https://${host}${ctx.path.startsWith('/') ? ctx.path : '/'}`;
    const body = `Redirecting to ${location}\n`;
    ctx.sink.head(308, ['location', location, 'content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body)), 'x-request-id', ctx.id]);
    if (ctx.req.method !== 'HEAD') ctx.sink.data(Buffer.from(body));
    ctx.sink.end();
    return Promise.resolve();
  },
};

/** With `client_cert: optional`, a client that presented a certificate that did not verify gets 403 (none at all is fine). */
export const clientCertStage: Stage = {
  name: 'client-cert',
  handle(ctx, next) {
    const socket = ctx.req.socket as TLSSocket;
    if (!socket.authorized && socket.getPeerCertificate && Object.keys(socket.getPeerCertificate()).length > 0) {
      ctx.logFields.client_cert_error = String(socket.authorizationError ?? 'not verified');
      throw new ProxyError('denied', 'the client certificate did not verify');
    }
    return next();
  },
};
