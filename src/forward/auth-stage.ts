/**
 * Proxy authentication: `Proxy-Authorization: Basic` checked against `auth.users_file`. With a
 * users file every request needs valid credentials (407 with `Proxy-Authenticate` otherwise);
 * requests decrypted from an intercepted tunnel inherit the CONNECT's user. Failures are logged
 * (user name and client address, never the password) and counted.
 */
import { ProxyError } from '../core/errors.js';
import type { Stage } from '../core/pipeline.js';
import type { Metrics } from '../observability/metrics.js';
import { tunnelOf } from './absolute-form.js';
import { basicChallenge, parseBasicAuth } from './basic-auth.js';
import type { ForwardPolicy } from './forward-policy.js';

/** The 407 to throw; the challenge header rides in `extraResponseHeaders`, which the error responder sends. */
export function authRequired(ctx: Parameters<Stage['handle']>[0], realm: string, detail: string): ProxyError {
  ctx.addResponseHeader('proxy-authenticate', basicChallenge(realm));
  return new ProxyError('auth_required', detail);
}

export function authStage(policy: ForwardPolicy, metrics: Metrics): Stage | undefined {
  const users = policy.users;
  if (!users) return undefined;
  const realm = policy.cfg.auth.realm;
  return {
    name: 'proxy-auth',
    async handle(ctx, next) {
      if (ctx.dryRun && ctx.slots.user !== undefined) {
        ctx.trace?.step('auth', { result: 'simulated', user: ctx.slots.user });
        return next();
      }
      const tunnel = tunnelOf(ctx);
      if (tunnel) {
        ctx.slots.user = tunnel.user;
        ctx.trace?.step('auth', { result: 'inherited', user: tunnel.user });
        return next();
      }
      const creds = parseBasicAuth(ctx.req.headers['proxy-authorization']);
      // no credentials is how every client starts, not a failure
      if (!creds) ctx.trace?.step('auth', { result: 'missing' });
      if (!creds) throw authRequired(ctx, realm, 'proxy authentication required');
      const result = await users.verify(creds.user, creds.password);
      if (!result.ok) {
        if (!ctx.dryRun) metrics.authFailures.labels(ctx.listener.name).inc();
        ctx.logFields.auth_failure = result.reason;
        ctx.trace?.step('auth', { result: 'failed', user: creds.user, reason: result.reason });
        ctx.log.warn({ user: creds.user, client: ctx.clientIp, reason: result.reason }, 'proxy authentication failed');
        throw authRequired(ctx, realm, 'invalid proxy credentials');
      }
      ctx.slots.user = creds.user;
      ctx.trace?.step('auth', { result: 'ok', user: creds.user });
      return next();
    },
  };
}
