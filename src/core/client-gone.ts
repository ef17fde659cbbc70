/**
 * Tells when a request's client has gone. A request reaches the pipeline only once the responses before
 * it on its connection are complete (connection-order.ts), and by then node:http has given its response
 * the socket: the response's 'close' covers every way the client can leave.
 */
import type { ServerResponse } from 'node:http';

/** Calls `fn` once when the client's connection closes before `res` finished; returns the unsubscriber. */
export function onClientGone(res: ServerResponse, fn: () => void): () => void {
  const once = (): void => { if (!res.writableFinished) fn(); };
  // gone already: its 'close' has been emitted
  if (res.destroyed || res.socket?.destroyed) { queueMicrotask(once); return () => {}; }
  res.once('close', once);
  return () => { res.off('close', once); };
}
