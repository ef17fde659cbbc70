/**
 * Optional OpenTelemetry export (`tracing.otlp_endpoint`): one SERVER span per request, sent in batches over
 * OTLP/HTTP (JSON) by the official SDK. The SDK is imported only when an endpoint is configured, so with
 * export off nothing is loaded and the trace-context stage does what it does without it.
 */
import { randomUUID } from 'node:crypto';
import { newSpanId, type SpanRecorder } from './trace-context.js';

interface TracingConfig { otlp_endpoint: string; service_name: string }

export async function createOtlpRecorder(cfg: TracingConfig, nodeId: string): Promise<SpanRecorder> {
  const api = await import('@opentelemetry/api');
  const { TracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  // a trace that starts here takes the id chosen by the trace-context stage (the request id), not a random one
  let nextTraceId: string | undefined;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': cfg.service_name, 'service.instance.id': nodeId }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: cfg.otlp_endpoint }), scheduledDelayMillis: 1000, exportTimeoutMillis: 5000 })],
    idGenerator: {
      generateTraceId: () => { const id = nextTraceId ?? randomUUID().replaceAll('-', ''); nextTraceId = undefined; return id; },
      generateSpanId: newSpanId,
    },
  });
  const tracer = provider.getTracer('gatehouse');
  return {
    begin(ctx, traceId, parent) {
      const parentContext = parent
        ? api.trace.setSpanContext(api.ROOT_CONTEXT, {
          traceId, spanId: parent.spanId, isRemote: true, traceFlags: parent.sampled ? api.TraceFlags.SAMPLED : api.TraceFlags.NONE,
        })
        : api.ROOT_CONTEXT;
      nextTraceId = parent ? undefined : traceId;
      const span = tracer.startSpan(ctx.req.method ?? 'HTTP', {
        kind: api.SpanKind.SERVER,
        attributes: {
          'http.request.method': ctx.req.method ?? '', 'url.path': ctx.path, 'client.address': ctx.clientIp,
          'gatehouse.request_id': ctx.id, 'gatehouse.listener': ctx.listener.name,
        },
      }, parentContext);
      nextTraceId = undefined;
      const sc = span.spanContext();
      return {
        spanId: sc.spanId,
        sampled: (sc.traceFlags & api.TraceFlags.SAMPLED) !== 0,
        end(status, error) {
          if (ctx.route) span.setAttribute('http.route', ctx.route.name);
          if (ctx.upstream) span.setAttribute('gatehouse.upstream', ctx.upstream.id);
          if (status !== undefined) span.setAttribute('http.response.status_code', status);
          if (error !== undefined || (status ?? 500) >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR, message: error });
          span.end();
        },
      };
    },
    shutdown: () => provider.shutdown(),
  };
}
