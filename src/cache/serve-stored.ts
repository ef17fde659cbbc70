/**
 * Answers a request from a stored response. Everything that can be is prebuilt at store time
 * (`headerList`, body Buffers), so a hit is: pick the variant, append Age, Cache-Status and the
 * request id, write. Client conditionals get a 304 and a single byte range a 206, both from the
 * stored complete response.
 */
import type { RequestContext } from '../core/context.js';
import type { ResponseSink } from '../core/response-sink.js';
import { cacheStatus, type CacheStatusInfo } from './cache-status.js';
import { evaluateConditional, evaluateRange, notModifiedHeaderList, sliceBody } from './conditional.js';
import { currentAge } from './freshness.js';
import type { StoredResponse } from './stored-response.js';

/** Writes one response into a sink and ends it. */
function write(sink: ResponseSink, status: number, headers: string[], body: readonly Buffer[] | undefined): void {
  sink.head(status, headers);
  if (body) for (const chunk of body) if (chunk.length) sink.data(chunk);
  sink.end();
}

function tail(ctx: RequestContext, headers: string[], age: number, info: CacheStatusInfo): string[] {
  headers.push('age', String(age), 'cache-status', cacheStatus(info), 'x-request-id', ctx.id);
  if (ctx.extraResponseHeaders) headers.push(...ctx.extraResponseHeaders);
  return headers;
}

function without(list: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) if (list[i] !== name) out.push(list[i]!, list[i + 1]!);
  return out;
}

/**
 * Serves `stored` to the client through `sink` (default: ctx.sink). `headerList` overrides the stored
 * list (a freshened response carries the validating request's Set-Cookie); `info` is the Cache-Status.
 */
export function serveStored(ctx: RequestContext, stored: StoredResponse, info: CacheStatusInfo, nowMs: number,
  opts: { sink?: ResponseSink; headerList?: readonly string[] } = {}): void {
  const sink = opts.sink ?? ctx.sink;
  const req = ctx.req.headers;
  const method = ctx.req.method;
  const age = Math.min(Math.floor(currentAge(stored, nowMs)), 2147483648);
  const list = opts.headerList ?? stored.headerList;
  if ((req['if-none-match'] !== undefined || req['if-modified-since'] !== undefined)
    && evaluateConditional(method!, req, stored) === 'not-modified') {
    ctx.logFields.cache_304 = true;
    return write(sink, 304, tail(ctx, notModifiedHeaderList(stored), age, info), undefined);
  }
  const body = method === 'HEAD' ? undefined : stored.body;
  if (req.range !== undefined && method === 'GET') {
    const range = evaluateRange(method, req, stored);
    if (range === 'unsatisfiable') {
      const headers = ['content-range', `bytes */${stored.bodySize}`, 'content-length', '0'];
      return write(sink, 416, tail(ctx, headers, age, info), undefined);
    }
    if (range) {
      const headers = without(list, 'content-length');
      headers.push('content-length', String(range.end - range.start + 1), 'content-range', `bytes ${range.start}-${range.end}/${stored.bodySize}`);
      return write(sink, 206, tail(ctx, headers, age, info), sliceBody(stored.body, range.start, range.end));
    }
  }
  write(sink, stored.status, tail(ctx, list.slice(), age, info), body);
}
