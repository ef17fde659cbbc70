/**
 * The last stage of a forward listener: sends the request to its destination, or to the parent
 * proxy. Direct: the SSRF guard resolves the host once and checks every address; the request goes
 * through the keep-alive pool of the address it returned, with the original Host. Through a parent:
 * absolute-form to the parent with its Proxy-Authorization (the parent resolves and guards).
 */
import type { Dispatcher } from 'undici';
import { ProxyError } from '../core/errors.js';
import { forwardedForValue, forwardedValues } from '../core/client-address.js';
import { sendUpstream, requestHasBody } from '../core/upstream-request.js';
import { sendWithRetries } from '../core/upstream-retry.js';
import { droppedRequestFields, setHeader, upstreamRequestHeaders } from '../core/headers.js';
import { limitedBody } from '../core/limits-stage.js';
import { watchRequestBody } from '../core/body-watch.js';
import type { Stage } from '../core/pipeline.js';
import { targetOf, type ForwardTarget } from './absolute-form.js';
import type { DestinationPools } from './destination-pools.js';
import type { ForwardPolicy } from './forward-policy.js';
import type { SsrfDenial, SsrfVerdict } from './ssrf-guard.js';

/** The error to answer for an SSRF guard refusal. */
export function ssrfError(v: SsrfDenial): ProxyError {
  switch (v.code) {
    case 'destination_ip_prohibited': return new ProxyError('destination_prohibited', v.denied);
    case 'http_request_error': return new ProxyError('bad_request', v.denied);
    case 'dns_timeout': return new ProxyError('dns_error', v.denied, { status: 504 });
    default: return new ProxyError('dns_error', v.denied);
  }
}

export function forwardStage(policy: ForwardPolicy, pools: DestinationPools): Stage {
  const cfg = policy.cfg;
  const dropped = droppedRequestFields(cfg.strip_request_headers);
  const connectTimeoutMs = cfg.connect_timeout;
  // an IP-literal destination's verdict never changes for one policy: no DNS is involved
  const literalVerdicts = new Map<string, SsrfVerdict>();
  const checked = async (t: ForwardTarget): Promise<SsrfVerdict> => {
    if (t.kind === 'name') return policy.ssrf.resolveAndCheck(t.host, t.port);
    const key = `${t.host} ${t.port}`;
    let v = literalVerdicts.get(key);
    if (!v) {
      v = await policy.ssrf.resolveAndCheck(t.host, t.port);
      if (literalVerdicts.size >= 4096) literalVerdicts.clear();
      literalVerdicts.set(key, v);
    }
    return v;
  };
  return {
    name: 'forward',
    async handle(ctx) {
      const t = targetOf(ctx)!;
      const req = ctx.req;
      const headers = upstreamRequestHeaders(req.rawHeaders, {
        via: ctx.listener.via, requestId: ctx.id, forwardedFor: cfg.x_forwarded_for ? forwardedForValue(ctx) : undefined,
        forwarded: cfg.x_forwarded_for ? forwardedValues(ctx) : undefined,
        set: ctx.setRequestHeaders, remove: ctx.removeRequestHeaders, dropped,
      });
      // RFC 9112 §3.2.2: the target's authority is the Host (a disagreeing client Host was refused earlier)
      if (!ctx.setRequestHeaders?.some(([n]) => n === 'host')) setHeader(headers, 'host', t.authority);
      const body = requestHasBody(req) ? limitedBody(req, cfg.limits.max_body_size, cfg.limits.max_headers) : null;
      const signal = body ? watchRequestBody(req, ctx.res, cfg.limits)?.signal : undefined;
      const send = async (dispatcher: Dispatcher, origin: string, path: string) => {
        const traced = ctx.trace?.step('upstream', { origin });
        const r = await sendUpstream(ctx, { dispatcher, origin }, { method: req.method!, path, headers, body, sendTimeout: cfg.limits.send_timeout, signal });
        ctx.upstreamMs = r.headMs;
        if (traced) { traced.status = r.status; traced.head_us = Math.round(r.headMs * 1000); }
      };
      const parent = policy.parentFor(t.host);
      if (parent) {
        const { pool, origin } = pools.get({ scheme: 'http', address: parent.host, port: parent.port, connectTimeoutMs });
        if (parent.authorization) headers.push('proxy-authorization', parent.authorization);
        ctx.upstream = { id: `parent ${parent.origin}` };
        ctx.trace?.step('parent', { parent: parent.origin });
        // the parent resolves and retries itself: one attempt
        await sendWithRetries(ctx, body, origin, {
          retryResets: false, send: () => send(pool, origin, `${t.scheme}://${t.authority}${ctx.path}`), next: () => undefined,
        });
        return;
      }
      const v = await checked(t);
      ctx.trace?.step('ssrf', 'denied' in v
        ? { host: t.host, verdict: 'denied', reason: v.denied, code: v.code }
        : { host: t.host, verdict: 'allowed', address: v.address, addresses: v.addresses.map((a) => a.address) });
      if ('denied' in v) throw ssrfError(v);
      // Every address was checked: when one refuses a connection, the next one may serve (as browsers and Squid do).
      await sendWithRetries(ctx, body, 0, {
        retryResets: false,
        send: (i) => {
          const { pool, origin } = pools.get({
            scheme: t.scheme, address: v.addresses[i]?.address ?? v.address, port: t.port, connectTimeoutMs,
            servername: t.scheme === 'https' && t.kind === 'name' ? t.host : undefined, ca: policy.upstreamCa,
          });
          ctx.upstream = { id: origin };
          return send(pool, origin, ctx.path);
        },
        next: (i) => (i + 1 < v.addresses.length ? i + 1 : undefined),
        retrying: (_from, next, why) => {
          ctx.logFields.address_fallback = next;
          ctx.trace?.step('retry', { from: (ctx.upstream as { id: string }).id, why, next: v.addresses[next]?.address });
        },
      });
    },
  };
}
