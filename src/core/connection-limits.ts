/**
 * limits.max_connections_per_ip: one client address may hold at most that many connections to a
 * listener (nginx limit_conn, HAProxy src_conn_cur), so it cannot take every slot of max_connections.
 * A connection over the cap is closed at once, before a byte is read: under attack that is the cheapest
 * answer. Addresses in per_ip_exempt (NAT gateways, balancers in front) are not counted. HTTP listeners
 * and tcp: listeners use it alike.
 */
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import { cidrMatcher } from './cidr.js';
import { peerAddress } from './client-address.js';

export interface PerIpLimit {
  /** 0 = no limit. */
  readonly max: number;
  readonly isExempt: (ip: string) => boolean;
}

/** The limit of a listener config: its cap and its exempt CIDRs, compiled once. */
export function perIpLimit(max: number, exempt: readonly string[]): PerIpLimit {
  return { max, isExempt: cidrMatcher(exempt) };
}

/**
 * Counts each address's open connections on `server`; `limit` is read per connection, so a reload can
 * change it. Refusals are logged at most once a second: an attack must not flood the log.
 */
export function limitConnectionsPerIp(server: Server, limit: () => PerIpLimit, log: Logger): void {
  const open = new Map<string, number>();
  let lastLog = 0;
  server.on('connection', (socket: Socket) => {
    const { max, isExempt } = limit();
    if (max <= 0) return;
    const ip = peerAddress(socket);
    if (isExempt(ip)) return;
    const n = open.get(ip) ?? 0;
    if (n >= max) {
      socket.destroy();
      const now = Date.now();
      if (now - lastLog >= 1000) { lastLog = now; log.warn({ client: ip, max }, 'connection refused: too many from one address'); }
      return;
    }
    open.set(ip, n + 1);
    socket.once('close', () => {
      const left = open.get(ip)! - 1;
      if (left > 0) open.set(ip, left); else open.delete(ip);
    });
  });
}
