/** The forward stage of a simulation: the parent proxy or the SSRF guard's verdict (DNS is asked), nothing sent. */
import type { Stage } from '../core/pipeline.js';
import { targetOf } from './absolute-form.js';
import type { ForwardPolicy } from './forward-policy.js';
import { ssrfError } from './forward-stage.js';

export function dryForwardStage(policy: ForwardPolicy): Stage {
  return {
    name: 'forward (dry run)',
    async handle(ctx) {
      const t = targetOf(ctx)!;
      const parent = policy.parentFor(t.host);
      if (parent) {
        ctx.upstream = { id: `parent ${parent.origin}` };
        ctx.trace?.step('parent', { parent: parent.origin });
        ctx.trace?.step('upstream', { origin: ctx.upstream.id, sent: false });
        return;
      }
      const v = await policy.ssrf.resolveAndCheck(t.host, t.port);
      ctx.trace?.step('ssrf', 'denied' in v
        ? { host: t.host, verdict: 'denied', reason: v.denied, code: v.code }
        : { host: t.host, verdict: 'allowed', address: v.address, addresses: v.addresses.map((a) => a.address) });
      if ('denied' in v) throw ssrfError(v);
      const address = v.address.includes(':') ? `[${v.address}]` : v.address;
      ctx.upstream = { id: `${t.scheme}://${address}:${t.port}` };
      ctx.trace?.step('upstream', { origin: ctx.upstream.id, sent: false });
    },
  };
}
