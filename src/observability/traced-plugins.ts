/**
 * Times a listener's or route's plugin stage for the decision trace: how long the plugins took before they
 * let the request go on (or answered it themselves), and which plugins ran. Costs one property read when
 * no trace is being built.
 */
import type { PluginEntry } from '../config/types.js';
import type { Stage } from '../core/pipeline.js';
import { DecisionTrace } from './decision-trace.js';
import { toProxyError } from '../core/errors.js';

export function tracedPlugins(stage: Stage | undefined, entries: readonly PluginEntry[]): Stage | undefined {
  if (!stage) return undefined;
  const plugins = entries.map((e) => (typeof e === 'string' ? e : e.file));
  return {
    name: stage.name,
    handle(ctx, next) {
      const trace = ctx.trace;
      if (!trace) return stage.handle(ctx, next);
      const t0 = performance.now();
      const step = trace.step('plugins', { plugins });
      let passed = false;
      const done = (decision: string) => { step.decision ??= decision; step.us ??= DecisionTrace.since(t0); };
      return stage.handle(ctx, () => {
        passed = true;
        done('continue');
        if (ctx.slots.pool !== undefined) step.pool = ctx.slots.pool;
        if (ctx.slots.pinnedUpstream !== undefined) step.upstream = ctx.slots.pinnedUpstream;
        return next();
      }).then(() => { if (!passed) { done('answered'); step.status = ctx.res.statusCode; } }, (e: unknown) => {
        if (!passed) { done('refused'); step.status = toProxyError(e).status; }
        throw e;
      });
    },
  };
}
