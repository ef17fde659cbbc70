/**
 * Cleartext HTTP/2 with prior knowledge (RFC 9113 §3.3): a connection that opens with the HTTP/2
 * preface goes to the HTTP/2 side, any other to HTTP/1.1. Only the first bytes are looked at; they are
 * put back on the socket for whichever side takes it. A client silent past `timeoutMs` goes to HTTP/1.1,
 * whose header timeout answers it (408).
 */
import type { Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function routeByPreface(socket: Socket, timeoutMs: number, route: (isH2: boolean) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const decide = (isH2: boolean) => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('error', onError);
    socket.pause();
    if (isH2) {
      // node's HTTP/2 session reads what is buffered on the socket when it sets itself up
      if (seen.length) socket.unshift(seen);
      // node:http keeps its sockets half-open on the client's FIN; an HTTP/2 session must see it end
      socket.allowHalfOpen = false;
      route(true);
      return;
    }
    // node's HTTP/1 parser takes the socket's handle over: the bytes already read go to it as data
    route(false);
    if (seen.length) socket.emit('data', seen);
  };
  const onData = (chunk: Buffer) => {
    seen = seen.length ? Buffer.concat([seen, chunk]) : chunk;
    const n = Math.min(seen.length, PREFACE.length);
    const matches = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (matches && seen.length < PREFACE.length) return;
    decide(matches);
  };
  const onError = () => { clearTimeout(timer); socket.destroy(); };
  const timer = setTimeout(() => decide(false), timeoutMs);
  socket.on('data', onData);
  socket.on('error', onError);
  socket.once('close', () => clearTimeout(timer));
}
