/** A plugin's hook calls in the decision trace (src/observability/decision-trace.ts). */
import type { RequestContext } from '../core/context.js';
import type { Plugin } from './plugin.js';
import type { CallResult, HookName } from './plugin-types.js';

/**
 * One hook call in the decision trace: the plugin, what it decided (`continue`, the decision's kind, or
 * `failed: KIND`) and the µs from the call to its answer (the plugin process's round trip included).
 */
export function traceCall(ctx: RequestContext, plugin: Plugin, hook: HookName, r: CallResult<unknown>, t0: number): void {
  const decision = !r.ok ? `failed: ${r.error.kind}` : r.decision === null ? 'continue' : Object.keys(r.decision as object).join('+');
  ctx.trace?.step('plugin', { plugin: plugin.name, hook, decision, us: Math.round((performance.now() - t0) * 1000) });
}
