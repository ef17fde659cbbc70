/**
 * Tells when a request's client has gone. A ServerResponse emits 'close' only once node:http has given
 * it the socket: the responses of pipelined requests queued behind another never do, so their socket's
 * 'close' is watched too. One socket listener serves every request on the connection.
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const watchers = Symbol('gatehouse.clientGone');
type Watched = Socket & { [watchers]?: Set<() => void> };

function onSocketClose(this: Watched): void {
  const set = this[watchers];
  this[watchers] = undefined;
  if (set) for (const fn of set) fn();
}

/** Calls `fn` once when the client's connection closes before `res` finished; returns the unsubscriber. */
export function onClientGone(res: ServerResponse, socket: Socket | null, fn: () => void): () => void {
  let called = false;
  const once = (): void => { if (!called && !res.writableFinished) { called = true; fn(); } };
  res.once('close', once);
  const s = socket as Watched | null;
  if (s && !s.destroyed) {
    let set = s[watchers];
    if (!set) { set = s[watchers] = new Set(); s.once('close', onSocketClose); }
    set.add(once);
  } else if (s?.destroyed) queueMicrotask(once);
  return () => {
    res.off('close', once);
    s?.[watchers]?.delete(once);
  };
}
