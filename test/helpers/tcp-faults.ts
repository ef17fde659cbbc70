/**
 * Upstream faults at the TCP level, as replies for the recording origin (raw-http.ts): each one
 * takes the connection over after the request arrived and misbehaves in one precise way.
 */
import type { Socket } from 'node:net';
import type { ScriptedReply } from './raw-http.js';

const bytesOf = (b: string | Buffer): Buffer => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b);

/** Writes the first `n` bytes of `response`, then resets the connection (RST). */
export function resetAfter(response: string | Buffer, n: number): ScriptedReply {
  return { custom: (s: Socket) => { s.write(bytesOf(response).subarray(0, n), () => s.resetAndDestroy()); } };
}

/** Writes the first `n` bytes of `response` (none by default), then says nothing more. */
export function stall(response: string | Buffer = '', n = 0): ScriptedReply {
  return { custom: (s: Socket) => { if (n > 0) s.write(bytesOf(response).subarray(0, n)); } };
}

/** Writes `response` `size` bytes at a time, one piece every `everyMs`, and keeps the connection. */
export function slowDrip(response: string | Buffer, size: number, everyMs: number): ScriptedReply {
  return {
    custom: (s: Socket) => {
      const all = bytesOf(response);
      let at = 0;
      const timer = setInterval(() => {
        if (s.destroyed || at >= all.length) { clearInterval(timer); return; }
        s.write(all.subarray(at, at + size));
        at += size;
      }, everyMs);
      s.once('close', () => clearInterval(timer));
    },
  };
}

/** A chunked response whose second chunk stops half-way, then a clean close (FIN). */
export function closeMidChunk(): ScriptedReply {
  return {
    custom: (s: Socket) => {
      s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n10\r\nonly-half');
      s.end();
    },
  };
}
