/**
 * Forward-mode policy, in Squid's order: CONNECT only to `connect_ports`, then the ACL (first match
 * wins, no match = deny), then the domain block list (HTTP and CONNECT, by host), then URL
 * patterns (HTTP only). A denial is a 403 naming the rule and the request id (an HTML block page for
 * browsers), with Proxy-Status; the rule is in the access log (`rule`, `denied_by`).
 */
import type { RequestContext } from '../core/context.js';
import { errorResponseParts } from '../core/error-response.js';
import { ProxyError } from '../core/errors.js';
import type { Stage } from '../core/pipeline.js';
import { targetOf, tunnelOf } from './absolute-form.js';
import { authRequired } from './auth-stage.js';
import { describeBlockEntry } from './block-list-loader.js';
import type { ForwardPolicy } from './forward-policy.js';

const NO_GROUPS: ReadonlySet<string> = new Set();

/** Answers 403 naming the rule and request id (HTML for browsers, text otherwise; through the sink, so the access log counts it) and records why. */
function answerDenied(ctx: RequestContext, by: string, rule: string, reason: string, target: string): void {
  const err = new ProxyError('denied', `${by}: ${rule}`);
  ctx.error = err;
  ctx.logFields.denied_by = by;
  ctx.logFields.rule = rule;
  ctx.trace?.step('denied', { by, rule });
  const { headers, body } = errorResponseParts(err, ctx.id, {
    accept: ctx.req.headers.accept, message: reason, facts: [['Destination', target], ['Rule', `${by}: ${rule}`]], nodeId: ctx.listener.nodeId,
  });
  ctx.sink.head(err.status, headers);
  if (ctx.req.method !== 'HEAD') ctx.sink.data(body);
  ctx.sink.end();
}

export function accessControlStage(policy: ForwardPolicy): Stage {
  const { acl, blocks, urls, connectPorts } = policy;
  const realm = policy.cfg.auth.realm;
  return {
    name: 'access-control',
    handle(ctx, next) {
      const t = targetOf(ctx)!;
      const method = ctx.req.method ?? 'GET';
      const connect = method === 'CONNECT';
      if (connect && !connectPorts.has(t.port)) {
        answerDenied(ctx, 'connect_ports', `port ${t.port} is not in connect_ports`, 'CONNECT is not allowed to this port.', t.authority);
        return Promise.resolve();
      }
      // `GET https://…` makes the proxy open TLS itself: the same ports as a CONNECT (as Squid's SSL_ports)
      if (!connect && t.scheme === 'https' && !tunnelOf(ctx) && !connectPorts.has(t.port)) {
        answerDenied(ctx, 'connect_ports', `port ${t.port} is not in connect_ports`, 'HTTPS is not allowed to this port.', t.authority);
        return Promise.resolve();
      }
      const user = ctx.slots.user;
      const decision = acl.evaluate({
        srcIp: ctx.clientIp, user, groups: user !== undefined ? policy.groups?.groupsOf(user) ?? NO_GROUPS : undefined,
        host: t.host, port: t.port, method,
      });
      ctx.logFields.rule = decision.rule;
      ctx.trace?.step('acl', { action: decision.action, rule: decision.rule, index: decision.index, auth_required: decision.authRequired || undefined });
      if (decision.action === 'deny') {
        if (decision.authRequired) throw authRequired(ctx, realm, `rule ${decision.rule} needs an authenticated user`);
        answerDenied(ctx, 'acl', decision.rule, 'Access to this destination is denied by policy.', t.authority);
        return Promise.resolve();
      }
      const blocked = blocks.match(t.host);
      if (blocked) {
        answerDenied(ctx, 'block_list', describeBlockEntry(blocked.pattern, blocked.value), 'This site is blocked by policy.', t.authority);
        return Promise.resolve();
      }
      if (!connect && urls.size > 0) {
        const hit = urls.match({ scheme: t.scheme, host: t.host, port: t.port, path: ctx.path });
        if (hit) {
          answerDenied(ctx, 'block_urls', hit.rule, 'This address is blocked by policy.', `${t.scheme}://${t.authority}${ctx.path}`);
          return Promise.resolve();
        }
      }
      return next();
    },
  };
}
