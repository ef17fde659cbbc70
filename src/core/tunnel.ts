/**
 * The byte-tunnel transport shared by CONNECT, upgraded connections (WebSocket) and `tcp:` listeners:
 * one dialer (a TCP connection within a deadline) and one relay (bytes both ways until both ends closed).
 */
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

const DEFAULT_PORT: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * Opens a TCP connection within `timeoutMs`. Resolves with the connected socket (half-open allowed, so
 * each direction of a tunnel ends on its own), or rejects with a coded error that `toProxyError` maps
 * (ECONNREFUSED 502, UND_ERR_CONNECT_TIMEOUT 504).
 */
export function dial(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: host.replace(/^\[|\]$/g, ''), port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect to ${host}:${port} timed out after ${timeoutMs}ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    }, timeoutMs);
    const onError = (err: Error) => { clearTimeout(timer); socket.destroy(); reject(err); };
    socket.once('error', onError);
    socket.once('connect', () => { clearTimeout(timer); socket.off('error', onError); resolve(socket); });
  });
}

/** `dial` to a URL's host and port (the scheme's default port when it has none). */
export function dialUrl(url: URL, timeoutMs: number): Promise<Socket> {
  return dial(url.hostname, Number(url.port) || DEFAULT_PORT[url.protocol] || 0, timeoutMs);
}

export interface RelayResult {
  /** Client → upstream bytes. */
  readonly up: number;
  /** Upstream → client bytes. */
  readonly down: number;
  /** Why it ended early: `idle_timeout`, `client_error`, `upstream_error`; undefined for a clean close. */
  readonly reason?: string;
}

type ClientSide = Duplex & { setTimeout?: Socket['setTimeout']; setNoDelay?: Socket['setNoDelay'] };

/**
 * Relays bytes both ways until both sockets closed: `pipe` gives backpressure (a slow reader pauses the
 * other side), half-closes are passed on, an error on either side destroys both, and with `idleMs` > 0
 * a tunnel that carried no byte for that long is closed (0: no idle limit, and none inherited from the
 * HTTP server either). A side that is already gone closes the other one.
 */
export function relay(client: ClientSide, upstream: Socket, idleMs: number): Promise<RelayResult> {
  return new Promise((resolve) => {
    let reason: string | undefined;
    // the upstream socket counts what crossed: no per-chunk listener on the hot path
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
    } else {
      client.setTimeout?.(0);
    }
    client.setNoDelay?.(true);
    upstream.setNoDelay(true);
    let open = 2;
    const closed = () => { if (--open === 0) resolve({ up: upstream.bytesWritten - up0, down: upstream.bytesRead - down0, reason }); };
    for (const side of [client, upstream]) {
      if (side.closed) closed(); else side.once('close', closed);
    }
    if (client.destroyed || upstream.destroyed) {
      client.destroy();
      upstream.destroy();
      return;
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
}
