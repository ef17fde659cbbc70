/**
 * A routing plugin's call failed and the request fell back to its route's own pool: why, noted on the
 * request (access log field `route_fallback`) and counted per plugin and reason in
 * gatehouse_plugin_route_fallbacks_total by the access-log stage.
 */
import type { RequestContext } from '../core/context.js';

export interface RouteFallback { plugin: string; reason: string }

/** unknown_pool / unknown_upstream when the decision named a target the config does not have, else the failure's kind. */
function fallbackReason(error: { kind: string; message: string }): string {
  if (error.kind === 'malformed') {
    if (error.message.startsWith('route: no configured pool')) return 'unknown_pool';
    if (/^route: upstream .* is not in any configured pool$/.test(error.message)) return 'unknown_upstream';
  }
  return error.kind;
}

export function noteRouteFallback(ctx: RequestContext, plugin: string, error: { kind: string; message: string }): void {
  ctx.logFields.route_fallback = { plugin, reason: fallbackReason(error) } satisfies RouteFallback;
}
