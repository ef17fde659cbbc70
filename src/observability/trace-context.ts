/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) on the way through: a valid `traceparent` keeps
 * its trace id and gets this hop's span id as the new parent id; `tracestate` travels untouched. Without
 * one (or with an invalid one, whose `tracestate` is then dropped as the spec says) a trace starts here:
 * its id is the request id's UUID when the request id is one (so either finds the other in the logs),
 * otherwise random, and it is flagged sampled so tracing-aware services downstream record it. The trace id
 * goes in the access line (`trace_id`). With `tracing.otlp_endpoint`, each request is also a span (otlp.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Stage } from '../core/pipeline.js';
import type { RequestContext } from '../core/context.js';

const HEX = /^[0-9a-f]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A span being recorded: its id is the parent id sent upstream. */
interface RecordedSpan { readonly spanId: string; readonly sampled: boolean; end(status: number | undefined, error?: string): void }

/** Records a span per request; otlp.ts has the one that exports them (tracing.otlp_endpoint). */
export interface SpanRecorder {
  /** Starts the request's span; `parent` undefined: the trace starts here with `traceId`. */
  begin(ctx: RequestContext, traceId: string, parent: { spanId: string; sampled: boolean } | undefined): RecordedSpan;
  shutdown(): Promise<void>;
}

interface TraceParent { traceId: string; parentId: string; flags: string }

/** Parses a traceparent value; undefined when invalid (spec §3.2: version 00 exactly, later versions by prefix). */
export function parseTraceparent(value: string | string[] | undefined): TraceParent | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  const [version, traceId, parentId, flags] = v.split('-', 4) as [string, string?, string?, string?];
  if (version.length !== 2 || !HEX.test(version) || version === 'ff') return undefined;
  if (version === '00' ? v.length !== 55 : v.length < 55 || (v.length > 55 && v[55] !== '-')) return undefined;
  if (!traceId || traceId.length !== 32 || !HEX.test(traceId) || /^0+$/.test(traceId)) return undefined;
  if (!parentId || parentId.length !== 16 || !HEX.test(parentId) || /^0+$/.test(parentId)) return undefined;
  const f = flags?.slice(0, 2);
  if (!f || f.length !== 2 || !HEX.test(f)) return undefined;
  return { traceId, parentId, flags: f };
}

/** A new span id: 16 hex digits from a UUID (node draws those from a cached entropy pool: no allocation per call). */
export function newSpanId(): string {
  const u = randomUUID();
  return u.slice(0, 8) + u.slice(9, 13) + u.slice(14, 18);
}

/** A trace id for a trace that starts here: the request id's UUID when it is one, else random. */
export function newTraceId(requestId: string): string {
  if (UUID.test(requestId)) {
    const id = requestId.replaceAll('-', '').toLowerCase();
    if (!/^0+$/.test(id)) return id;
  }
  return randomUUID().replaceAll('-', '');
}

/**
 * The stage. `recorder`: the OTLP span recorder when `tracing.otlp_endpoint` is set (read per request, since
 * it is ready only after start); its span id is then the parent id sent upstream.
 */
export function traceContextStage(recorder: () => SpanRecorder | undefined = () => undefined): Stage {
  return {
    name: 'trace-context',
    handle(ctx, next) {
      const headers = ctx.req.headers;
      const incoming = parseTraceparent(headers.traceparent);
      let traceId: string;
      let sampled: boolean;
      if (incoming) {
        traceId = incoming.traceId;
        // only the sampled bit is defined for version 00; other bits are not passed on
        sampled = (parseInt(incoming.flags, 16) & 1) === 1;
      } else {
        traceId = newTraceId(ctx.id);
        sampled = true;
        if (headers.tracestate !== undefined) (ctx.removeRequestHeaders ??= []).push('tracestate');
      }
      ctx.logFields.trace_id = traceId;
      const rec = recorder();
      if (!rec) {
        (ctx.setRequestHeaders ??= []).push(['traceparent', `00-${traceId}-${newSpanId()}-${sampled ? '01' : '00'}`]);
        return next();
      }
      const span = rec.begin(ctx, traceId, incoming && { spanId: incoming.parentId, sampled });
      (ctx.setRequestHeaders ??= []).push(['traceparent', `00-${traceId}-${span.spanId}-${span.sampled ? '01' : '00'}`]);
      return next().then(
        () => span.end(ctx.finalStatus ?? ctx.res.statusCode),
        (e: unknown) => { span.end(ctx.finalStatus, (e as { kind?: string }).kind ?? (e as Error).message); throw e; },
      );
    },
  };
}
