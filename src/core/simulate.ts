/** Runs one simulated request through a listener's dry stage list and says what would have happened. */
import { RequestContext, type ListenerInfo } from './context.js';
import { DecisionTrace, type TraceRecord } from '../observability/decision-trace.js';
import type { Pipeline } from './pipeline.js';
import { requestIdFor } from './request-id.js';
import { simulatedExchange, type SimulationInput } from './simulated-request.js';

export interface SimulationResult {
  listener: string;
  /** Who would answer: the proxy itself (denial, error, respond route), the cache, or the upstream. */
  answered_by: 'proxy' | 'cache' | 'upstream';
  /** The status the proxy or the cache would answer; undefined when the upstream answers. */
  status?: number;
  /** The upstream (reverse) or destination (forward) the request would be sent to. */
  upstream?: string;
  route?: string;
  pool?: string;
  user?: string;
  rule?: unknown;
  error?: string;
  trace: TraceRecord;
}

export async function simulate(pipeline: Pipeline, info: ListenerInfo, input: SimulationInput): Promise<SimulationResult> {
  const { req, res } = simulatedExchange(input, info.mode === 'forward');
  const ctx = new RequestContext(requestIdFor(undefined), req, res, info, input.src ?? '127.0.0.1', null);
  ctx.dryRun = true;
  if (input.user !== undefined) ctx.slots.user = input.user;
  const trace = ctx.trace = new DecisionTrace(ctx.id, ctx.startMs, { listener: info.name, method: req.method!, url: input.url, client: ctx.clientIp });
  try {
    await pipeline(ctx);
  } catch (e) {
    // the dry stage list starts with the error responder: reaching here is a bug in a stage
    trace.step('error', { kind: 'internal', detail: (e as Error).message });
  }
  if (ctx.error) trace.step('error', { kind: ctx.error.kind, status: ctx.error.status, detail: ctx.error.detail });
  const answered = res.headersSent;
  const cached = !answered && ctx.logFields.cache === 'hit';
  const status = answered ? res.statusCode : cached ? ctx.finalStatus : ctx.error?.status;
  trace.status = status;
  trace.totalUs = DecisionTrace.since(ctx.startMs);
  const sent = ctx.upstream !== undefined && !answered && !cached && !ctx.error;
  return {
    listener: info.name, answered_by: sent ? 'upstream' : cached ? 'cache' : 'proxy', status, upstream: sent ? ctx.upstream!.id : undefined, route: ctx.route?.name, pool: ctx.slots.pool, user: ctx.slots.user,
    rule: ctx.logFields.rule, error: ctx.error?.proxyStatus, trace: trace.toJSON(),
  };
}
