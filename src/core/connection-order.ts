/**
 * Pipelined requests on one client connection run one after another, as nginx does: a request reaches
 * the pipeline only once the response before it is complete. So responses leave in request order, a
 * parse error found while a response is pending is answered after it, and once a response closes the
 * connection (400, 413, 505…) the requests queued behind it are never forwarded.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface Waiting { readonly req?: IncomingMessage; readonly res?: ServerResponse; readonly run: () => void }

interface Connection {
  /** The request whose response is in progress, if any, and that response. */
  current?: IncomingMessage;
  currentRes?: ServerResponse;
  /** The latest request node parsed on this connection. */
  last?: IncomingMessage;
  /** Requests (and a parse error's answer) waiting for the response in progress. */
  readonly queue: Waiting[];
  /** A response closed the connection: nothing after it runs. */
  closing: boolean;
}

const connectionKey = Symbol('gatehouse.connection');
const ignore = (): void => {};
type Tracked = Socket & { [connectionKey]?: Connection };

/** Whether node closes the connection after this response (`Connection: close` sent, or cut short). */
const closesConnection = (res: ServerResponse): boolean =>
  !res.shouldKeepAlive || (res as ServerResponse & { _last?: boolean })._last === true || !res.writableFinished;

function runNext(conn: Connection): void {
  const next = conn.queue.shift();
  conn.current = next?.req;
  conn.currentRes = next?.res;
  next?.run();
}

/** Runs `start` now, or once the responses before it on this connection are done; never after a closing one. */
export function inConnectionOrder(req: IncomingMessage, res: ServerResponse, start: () => void): void {
  const socket = req.socket as Tracked;
  const conn = (socket[connectionKey] ??= { queue: [], closing: false });
  if (conn.closing) return; // the connection ends with the response before: this request is never answered
  conn.last = req;
  res.once('close', () => {
    if (closesConnection(res)) { conn.closing = true; conn.queue.length = 0; }
    runNext(conn);
  });
  if (conn.current) conn.queue.push({ req, res, run: start });
  else { conn.current = req; conn.currentRes = res; start(); }
}

/**
 * Answers a parse error in request order, on the raw socket (`answer`). When the bad bytes were the body
 * of the request in progress, its own response carries the error (`answerOn`; the closing connection then
 * aborts what went upstream); a request still waiting is dropped and the error takes its place.
 */
export function afterPendingResponses(socket: Socket, err: Error, answer: () => void, answerOn: (res: ServerResponse) => void): void {
  const conn = (socket as Tracked)[connectionKey];
  if (!conn) { answer(); return; }
  conn.closing = true;
  const broken = conn.last && !conn.last.complete ? conn.last : undefined;
  if (broken && broken === conn.current) {
    const res = conn.currentRes!;
    // the body stream ends in this error, so whatever went upstream is aborted (and counted as the client's);
    // the request may not be read yet (a stage still deciding), so the error must not go unheard
    const fail = () => { broken.on('error', ignore); broken.destroy(err); };
    if (res.headersSent) { res.destroy(); fail(); } else { answerOn(res); res.once('close', fail); }
    return;
  }
  const waiting = conn.queue.findIndex((w) => w.req === broken);
  if (broken && waiting >= 0) conn.queue.splice(waiting, 1);
  if (conn.current) conn.queue.push({ run: answer }); else answer();
}
