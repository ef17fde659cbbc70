/**
 * Starts a request's decision trace when someone will read it (see TraceRecorder), shows it to a trusted
 * client that asked (X-Gatehouse-Trace response header), and hands it to the recorder and the access line
 * when the request is done. Placed right after the error responder, so every later decision is in it.
 */
import { DecisionTrace } from '../observability/decision-trace.js';
import type { TraceRecorder } from '../observability/trace-recorder.js';
import type { RequestContext } from './context.js';
import { toProxyError } from './errors.js';
import type { Stage } from './pipeline.js';
import { PassThroughSink, type ResponseSink } from './response-sink.js';

const TRACE_HEADER = 'x-gatehouse-trace';

/** Adds the trace header to the response head, whoever writes it (upstream, cache, a denial). */
class TraceHeaderSink extends PassThroughSink {
  sent = false;
  constructor(next: ResponseSink, private readonly trace: DecisionTrace, private readonly ctx: RequestContext) { super(next); }
  override head(status: number, headers: string[]): void {
    this.sent = true;
    // an upstream's answer reaches the client before the proxy stage learns its timing: note it now
    const last = this.trace.steps.at(-1);
    if (last?.step === 'upstream' && last.head_us === undefined && last.failed === undefined) {
      (last as Record<string, unknown>).head_us = DecisionTrace.since(this.trace.startMs) - last.at_us;
      (last as Record<string, unknown>).status ??= status;
    }
    let cacheStatus: string | undefined;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'cache-status') cacheStatus = headers[i + 1];
    noteLogFields(this.ctx, this.trace, cacheStatus);
    this.trace.status = status;
    this.trace.totalUs = DecisionTrace.since(this.trace.startMs);
    // an upstream cannot forge it: any copy it sent is replaced by ours
    const own: string[] = [];
    for (let i = 0; i < headers.length; i += 2) if (headers[i] !== TRACE_HEADER) own.push(headers[i]!, headers[i + 1]!);
    own.push(TRACE_HEADER, this.trace.headerValue());
    this.next.head(status, own);
  }
}

/** Copies what stages already note for the access log (cache outcome, plugin names, denial) into the trace. */
function noteLogFields(ctx: RequestContext, trace: DecisionTrace, cacheStatus?: string): void {
  if (trace.logFieldsNoted) return;
  trace.logFieldsNoted = true;
  const f = ctx.logFields;
  if (f.cache !== undefined || cacheStatus !== undefined) {
    // the Cache-Status detail (RFC 9211) names why a response is not stored (`private`, `no-store`…)
    const detail = cacheStatus && /;\s*detail=("?)([^;"]+)\1/.exec(cacheStatus)?.[2];
    const notStored = detail && !/;\s*(hit|stored)\b/.test(cacheStatus!) && !['storing', 'stale-if-error', 'stale-while-revalidate', 'max-stale'].includes(detail);
    trace.step('cache_outcome', { result: f.cache, cache_status: cacheStatus, reason: notStored ? `not storable: ${detail}` : detail || undefined });
  }
  if (f.plugin !== undefined || f.routed_by !== undefined || f.plugin_error !== undefined) {
    trace.step('plugin_outcome', { plugin: f.plugin, routed_by: f.routed_by, error: f.plugin_error });
  }
}

export function traceStage(recorder: TraceRecorder): Stage {
  return {
    name: 'trace',
    handle(ctx, next) {
      const show = recorder.mayShow(ctx.clientIp, ctx.req.headers[TRACE_HEADER]);
      if (!show && !recorder.always) return next();
      const trace = ctx.trace = new DecisionTrace(ctx.id, ctx.startMs, {
        listener: ctx.listener.name, method: ctx.req.method ?? '', url: ctx.req.url ?? '', client: ctx.clientIp,
      });
      let sink: TraceHeaderSink | undefined;
      if (show) ctx.wrapSink((inner) => (sink = new TraceHeaderSink(inner, trace, ctx)));
      const finish = () => {
        noteLogFields(ctx, trace);
        trace.status ??= ctx.finalStatus ?? ctx.res.statusCode;
        trace.totalUs ??= DecisionTrace.since(ctx.startMs);
        recorder.keep(trace);
        if (recorder.logs) ctx.logFields.trace = trace.toJSON();
      };
      return next().then(finish, (e: unknown) => {
        const err = toProxyError(e);
        trace.step('error', { kind: err.kind, status: err.status, detail: err.detail });
        noteLogFields(ctx, trace);
        trace.status = err.status;
        trace.totalUs = DecisionTrace.since(ctx.startMs);
        // the error responder writes this answer straight to the client, with the extra headers
        if (show && !sink?.sent) ctx.addResponseHeader(TRACE_HEADER, trace.headerValue());
        finish();
        throw e;
      });
    },
  };
}
