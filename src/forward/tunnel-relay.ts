/**
 * Relays bytes both ways between a client and a destination socket until both directions ended:
 * `pipe` gives backpressure (a slow reader pauses the other side), half-closes are passed on,
 * an error on either side destroys both, and a tunnel idle for `idleMs` is closed.
 */
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export interface RelayResult {
  /** Client → destination bytes. */
  readonly up: number;
  /** Destination → client bytes. */
  readonly down: number;
  /** Why it ended early: `idle_timeout`, `client_error`, `upstream_error`; undefined for a clean close. */
  readonly reason?: string;
}

export function relay(client: Duplex & { setTimeout?: Socket['setTimeout'] }, upstream: Socket, idleMs: number): Promise<RelayResult> {
  return new Promise((resolve) => {
    let reason: string | undefined;
    // the destination socket counts what crossed: no per-chunk listener on the hot path
    const up0 = upstream.bytesWritten;
    const down0 = upstream.bytesRead;
    const kill = (why: string) => () => {
      reason ??= why;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', kill('client_error'));
    upstream.on('error', kill('upstream_error'));
    // one timer per side: node counts reads and writes of a socket as activity
    if (idleMs > 0) {
      client.setTimeout?.(idleMs, kill('idle_timeout'));
      upstream.setTimeout(idleMs, kill('idle_timeout'));
    }
    let open = 2;
    const closed = () => { if (--open === 0) resolve({ up: upstream.bytesWritten - up0, down: upstream.bytesRead - down0, reason }); };
    client.once('close', closed);
    upstream.once('close', closed);
    client.pipe(upstream);
    upstream.pipe(client);
  });
}
