/**
 * Request body timeouts. `body_timeout` (nginx client_body_timeout): the longest gap between two body
 * reads. `body_min_rate` (Apache mod_reqtimeout MinRate): after `body_timeout`, each further second must
 * have brought that many bytes on average. Only time the proxy spends waiting for the client counts:
 * while the upstream is slow to take the body (the stream is paused) or no consumer reads it yet, the
 * clock stops. On expiry the signal aborts with a 408 ProxyError.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as h2constants } from 'node:http2';
import type { Limits } from '../config/types.js';
import { ProxyError } from './errors.js';

export interface BodyWatch { readonly signal: AbortSignal }

/** For a body nobody forwards (the response went out without it): closes the connection when it comes too slowly. */
export function dropSlowBody(req: IncomingMessage, limits: Limits): void {
  watchRequestBody(req, undefined, limits)?.signal.addEventListener('abort', () => {
    // an HTTP/2 stream is reset alone (node forbids touching the connection's socket from a request;
    // node usually resets such a stream itself once the response is complete)
    const h2stream = (req as unknown as { stream?: { close(code: number): void } }).stream;
    if (h2stream) h2stream.close(h2constants.NGHTTP2_CANCEL); else req.socket.destroy();
  }, { once: true });
}

export function watchRequestBody(req: IncomingMessage, res: ServerResponse | undefined, limits: Limits): BodyWatch | undefined {
  const timeout = limits.body_timeout;
  if (timeout <= 0 || req.complete) return undefined;
  const minRate = limits.body_min_rate;
  const controller = new AbortController();
  const socket = req.socket;
  const tick = Math.max(50, Math.min(1000, Math.floor(timeout / 4)));
  let lastBytes = socket.bytesRead;
  let received = 0;
  let waited = 0;
  let idle = 0;
  const timer = setInterval(() => {
    const bytes = socket.bytesRead;
    const got = bytes - lastBytes;
    lastBytes = bytes;
    received += got;
    // flowing with nothing buffered: the consumer wants bytes and the client does not send them
    if (req.readableFlowing !== true || req.readableLength > 0) { idle = 0; return; }
    waited += tick;
    idle = got > 0 ? 0 : idle + tick;
    const tooSlow = minRate > 0 && waited > timeout && received < minRate * ((waited - timeout) / 1000);
    if (idle >= timeout || tooSlow) {
      stop();
      controller.abort(new ProxyError('body_timeout', idle >= timeout ? `no request body byte for ${timeout} ms` : `request body slower than ${minRate} bytes/s`));
    }
  }, tick);
  timer.unref();
  const stop = (): void => {
    clearInterval(timer);
    req.off('end', stop); req.off('close', stop); res?.off('close', stop);
  };
  req.once('end', stop);
  req.once('close', stop);
  res?.once('close', stop);
  return { signal: controller.signal };
}
