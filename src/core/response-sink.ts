import type { ServerResponse } from 'node:http';

/**
 * Where a response goes. The last stage (proxy, or forward in forward mode) writes the upstream's response into `ctx.sink` (core/upstream-request.ts); stages that
 * must see or change the response (cache, plugins, sticky cookies) wrap the sink before calling next,
 * so response-side work runs in reverse stage order, like Envoy's encoder filters.
 * Headers are a flat list `[name, value, name, value…]` with lower-case names.
 */
export interface ResponseSink {
  head(status: number, headers: string[]): void;
  /** Returns false when the client is slow: wait for onDrain before writing more. */
  data(chunk: Buffer): boolean;
  onDrain(resume: () => void): void;
  end(): void;
  /** The response cannot be completed (upstream failed mid-body). */
  abort(err: Error): void;
}

/** The innermost sink: the client's ServerResponse. */
export class ServerResponseSink implements ResponseSink {
  /** Body bytes written, for the access log. */
  bytes = 0;
  /** An HTTP/2 response (node's compatibility object) takes no connection-specific fields. */
  readonly #http2: boolean;
  constructor(readonly res: ServerResponse) { this.#http2 = isHttp2Response(res); }
  head(status: number, headers: string[]): void { this.res.writeHead(status, this.#http2 ? withoutConnectionFields(headers) : headers); }
  data(chunk: Buffer): boolean { this.bytes += chunk.length; return this.res.write(chunk); }
  onDrain(resume: () => void): void { this.res.once('drain', resume); }
  end(): void { this.res.end(); }
  abort(err: Error): void { this.res.destroy(err); }
}

/** Base for sinks that change part of the response and pass the rest on. */
export class PassThroughSink implements ResponseSink {
  constructor(protected readonly next: ResponseSink) {}
  head(status: number, headers: string[]): void { this.next.head(status, headers); }
  data(chunk: Buffer): boolean { return this.next.data(chunk); }
  onDrain(resume: () => void): void { this.next.onDrain(resume); }
  end(): void { this.next.end(); }
  abort(err: Error): void { this.next.abort(err); }
}

/** Whether a response object is node:http2's compatibility response rather than node:http's. */
export const isHttp2Response = (res: ServerResponse): boolean => (res as { stream?: unknown }).stream !== undefined;

/** RFC 9113 §8.2.2: fields that only mean something on an HTTP/1.1 connection. */
const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function withoutConnectionFields(headers: string[]): string[] {
  let out: string[] | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (!CONNECTION_FIELDS.has(headers[i]!)) { out?.push(headers[i]!, headers[i + 1]!); continue; }
    out ??= headers.slice(0, i);
  }
  return out ?? headers;
}
