/**
 * The real client address of a request. X-Forwarded-For is believed only as far as it was written
 * by trusted proxies: starting at the socket peer, while the current hop is trusted we step one
 * address left in the header; the first untrusted address is the client (nginx
 * `real_ip_recursive on`). Reading from the right matters: a client can put anything at the left
 * of the header, but not to the right of what our trusted proxies appended.
 */
import { isIP, type Socket } from 'node:net';
import type { RequestContext } from './context.js';

/** The peer address, with IPv4-mapped IPv6 written as plain IPv4. */
export function peerAddress(socket: Socket): string {
  const ip = socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** X-Forwarded-For to send upstream: the client's own value extended only when the peer is trusted. */
export function forwardedForValue(ctx: RequestContext): string {
  const prior = ctx.req.headers['x-forwarded-for'];
  return prior && ctx.listener.isTrusted(ctx.clientIp) ? `${prior}, ${ctx.clientIp}` : ctx.clientIp;
}

/**
 * Forwarded (RFC 7239) and X-Real-IP to send upstream, treated like X-Forwarded-For: the client's own
 * values are kept (Forwarded extended) only when the peer is trusted, otherwise replaced by what the
 * proxy saw.
 */
export function forwardedValues(ctx: RequestContext, proto?: string): { forwarded: string; realIp: string } {
  const trusted = ctx.listener.isTrusted(ctx.clientIp);
  const ip = ctx.clientIp;
  const element = `for=${ip.includes(':') ? `"[${ip}]"` : ip}${proto ? `;proto=${proto}` : ''}`;
  const prior = ctx.req.headers.forwarded;
  const priorRealIp = ctx.req.headers['x-real-ip'];
  return {
    forwarded: trusted && prior ? `${prior}, ${element}` : element,
    realIp: trusted && typeof priorRealIp === 'string' && priorRealIp !== '' ? priorRealIp : ip,
  };
}

export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trust: { isTrusted(ip: string): boolean }): string {
  if (forwardedFor === undefined || !trust.isTrusted(peer)) return peer;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalise(hops[i]!);
    if (!hop) break; // garbage in the header: stop at the last address we could read
    client = hop;
    if (!trust.isTrusted(hop)) break;
  }
  return client;
}

/** Strips spaces, `[v6]:port` brackets and `v4:port` suffixes; undefined when not an IP address. */
function normalise(raw: string): string | undefined {
  let s = raw.trim();
  if (s.startsWith('[')) s = s.slice(1, s.indexOf(']') > 0 ? s.indexOf(']') : undefined);
  else if (s.indexOf(':') > 0 && s.indexOf(':') === s.lastIndexOf(':')) s = s.slice(0, s.indexOf(':'));
  return isIP(s) ? s : undefined;
}
