/** Request limits that node:http does not enforce itself: body size (413) and per-IP rate (429). */
import { Transform, type TransformCallback } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Limits } from '../config/types.js';
import { ProxyError } from './errors.js';
import type { Stage } from './pipeline.js';

/**
 * Counts body bytes of a request without a Content-Length and fails the stream past the limit; and, as
 * the body ends, fails it when the trailers have more fields than the header limit (they arrive after
 * the body went upstream: failing the stream aborts that request, and the client gets 431).
 */
class BodyLimit extends Transform {
  #seen = 0;
  constructor(private readonly req: IncomingMessage, private readonly max: number, private readonly maxTrailers: number) { super(); }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.max) done(new ProxyError('body_too_large', `body over ${this.max} bytes`));
    else done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    if (this.maxTrailers > 0 && this.req.rawTrailers.length > 2 * this.maxTrailers) done(new ProxyError('headers_too_large', `more than ${this.maxTrailers} trailer fields`));
    else done();
  }
}

/**
 * The request body to send upstream: the request itself when its length is declared (node:http enforces it),
 * else a counting stream that also checks the trailers. Throws 413 at once when a declared length is
 * over the limit.
 */
export function limitedBody(req: IncomingMessage, maxBytes: number, maxTrailers: number): NodeJS.ReadableStream {
  const declared = req.headers['content-length'];
  if (declared !== undefined && req.headers['transfer-encoding'] === undefined) {
    if (maxBytes > 0 && Number(declared) > maxBytes) throw new ProxyError('body_too_large', `body over ${maxBytes} bytes`);
    return req;
  }
  const limiter = new BodyLimit(req, maxBytes > 0 ? maxBytes : Infinity, maxTrailers);
  req.on('error', (e) => limiter.destroy(e));
  // the request can fail before anything reads the limiter (a stage still awaiting DNS or a plugin):
  // sendUpstream finds the error in `errored`, so it must not crash the process meanwhile
  limiter.on('error', ignore);
  return req.pipe(limiter);
}

const ignore = (): void => {};

/** How often the per-IP buckets are swept, and how long a client stays idle before its bucket goes. */
const SWEEP_EVERY_MS = 30_000;
const IDLE_MS = 60_000;

/** Fleet-wide buckets (shared.redis) and the name that keys this listener's buckets in them. */
export interface SharedBuckets {
  limiter: { take(key: string, rate: number): Promise<boolean | undefined> };
  scope: string;
}

/**
 * Token bucket per client IP: `perSecond` requests per second, bursts up to the same number. With `shared`
 * the bucket lives in Redis and holds across the fleet; when Redis does not answer within its budget the
 * request is judged by this process's own bucket (fail open to local limits, like Envoy's global rate limit).
 */
export function rateLimitStage(limits: Limits, shared?: SharedBuckets): Stage | undefined {
  const rate = limits.rate.per_ip;
  if (rate <= 0) return undefined;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let nextSweep = performance.now() + SWEEP_EVERY_MS;
  const takeLocal = (ip: string): boolean => {
    const now = performance.now();
    // Forget idle clients now and then so the map stays small. On the request path rather than on a timer:
    // a reload builds a new stage and simply drops this one, with nothing left running to stop.
    if (now >= nextSweep) {
      nextSweep = now + SWEEP_EVERY_MS;
      for (const [key, b] of buckets) if (now - b.at > IDLE_MS) buckets.delete(key);
    }
    let b = buckets.get(ip);
    if (!b) buckets.set(ip, (b = { tokens: rate, at: now }));
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  };
  const refuse = () => new ProxyError('rate_limited', `over ${rate} requests per second`);
  if (shared) {
    const prefix = `${shared.scope}:`;
    return {
      name: 'rate-limit',
      async handle(ctx, next) {
        const taken = await shared.limiter.take(prefix + ctx.clientIp, rate);
        if (!(taken ?? takeLocal(ctx.clientIp))) throw refuse();
        return next();
      },
    };
  }
  return {
    name: 'rate-limit',
    handle(ctx, next) {
      if (!takeLocal(ctx.clientIp)) throw refuse();
      return next();
    },
  };
}
