/**
 * Canonical form of a request host, so every later check (block list, ACL, SSRF guard) sees one
 * spelling. Numeric hosts go through the WHATWG URL host parser, which folds the inet_aton forms
 * browsers and curl accept (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`, trailing dot) into
 * dotted-quad IPv4 and compresses IPv6. Names are lower-cased, IDNA-encoded (punycode) and lose
 * one trailing dot.
 */

import { isIP } from 'node:net';

export type HostKind = 'ipv4' | 'ipv6' | 'name';

export interface NormalizedHost {
  /** Lower-case; IPv4 dotted-quad; IPv6 compressed and without brackets; names without a trailing dot. */
  readonly host: string;
  readonly kind: HostKind;
}

// Anything that would make `http://${raw}/` parse as something other than a bare host
// (userinfo, port, path, query, fragment), plus percent escapes, which Squid and nginx refuse too.
const FORBIDDEN = /[\u0000-\u0020\u007f/?#@\\%]/;

// After IDNA the URL parser still lets `*`, `'` or `,` through; no resolver answers those.
const LABEL = /^[a-z0-9_-]{1,63}$/;

/** Canonical host, or undefined when `raw` is not a valid host (caller answers 400). */
export function normalizeHost(raw: string): NormalizedHost | undefined {
  if (raw.length === 0 || raw.length > 255 || FORBIDDEN.test(raw)) return undefined;
  let candidate = raw;
  if (raw.startsWith('[')) {
    if (!raw.endsWith(']') || isIP(raw.slice(1, -1)) !== 6) return undefined; // zone ids (%eth0) never dialled
  } else if (raw.includes(':')) {
    if (isIP(raw) !== 6) return undefined;
    candidate = `[${raw}]`;
  }
  let hostname: string;
  try {
    const url = new URL(`http://${candidate}/`);
    if (url.port !== '' || url.pathname !== '/' || url.username !== '' || url.password !== '') return undefined;
    hostname = url.hostname;
  } catch {
    return undefined;
  }
  if (hostname.startsWith('[')) return { host: hostname.slice(1, -1), kind: 'ipv6' };
  if (isIP(hostname) === 4) return { host: hostname, kind: 'ipv4' };
  if (hostname.endsWith('.')) hostname = hostname.slice(0, -1);
  if (hostname.length === 0 || hostname.length > 253) return undefined;
  for (const label of hostname.split('.')) if (!LABEL.test(label)) return undefined;
  return { host: hostname, kind: 'name' };
}

/**
 * Splits `host:port` / `[v6]:port` (a CONNECT authority) into its parts; no normalisation.
 * Returns undefined when the port is missing or out of range.
 */
export function splitHostPort(authority: string): { host: string; port: number } | undefined {
  let host: string;
  let portText: string;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0 || authority[close + 1] !== ':') return undefined;
    host = authority.slice(0, close + 1);
    portText = authority.slice(close + 2);
  } else {
    const colon = authority.lastIndexOf(':');
    if (colon <= 0 || authority.indexOf(':') !== colon) return undefined;
    host = authority.slice(0, colon);
    portText = authority.slice(colon + 1);
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port >= 1 && port <= 65535 ? { host, port } : undefined;
}
