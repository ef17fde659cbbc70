/**
 * Host names, in one place for every mode. `normalizeHost` is the canonical, validating form (the ACL,
 * block list, SSRF guard, cache and the reverse Host check all see one spelling): numeric hosts go
 * through the WHATWG URL host parser, which folds the inet_aton forms browsers and curl accept
 * (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`, trailing dot) into dotted-quad IPv4 and compresses
 * IPv6; names are lower-cased, IDNA-encoded (punycode) and lose one trailing dot. `normaliseHost` is
 * the cheap matching form of an already checked Host header (route matching, plugin views).
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

/** `host` / `host:port` / `[v6]:port` split without normalising; port undefined when absent. */
export function splitAuthority(authority: string): { host: string; port?: number } | undefined {
  let host = authority;
  let portText: string | undefined;
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return undefined;
    host = authority.slice(0, close + 1);
    const rest = authority.slice(close + 1);
    if (rest !== '') {
      if (rest[0] !== ':') return undefined;
      portText = rest.slice(1);
    }
  } else {
    const colon = authority.indexOf(':');
    if (colon >= 0) {
      host = authority.slice(0, colon);
      portText = authority.slice(colon + 1);
    }
  }
  if (portText === undefined || portText === '') return { host };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  return { host, port: Number(portText) };
}

/** Lower-case host without port and trailing dot (IPv6 keeps its brackets); for route matching and plugin views. */
export function normaliseHost(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  let host = hostHeader;
  if (host.charCodeAt(0) === 91 /* [ */) host = host.slice(0, host.indexOf(']') + 1);
  else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  host = host.toLowerCase();
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Host header values already checked (clients send the same few over and over). */
const validHostValues = new Set<string>();

/** Whether a Host value is a host (reg-name or IP literal) with an optional port (RFC 9110 §7.2, RFC 3986 §3.2.2). */
export function isValidHostHeader(value: string): boolean {
  if (validHostValues.has(value)) return true;
  const split = splitAuthority(value);
  if (!split || (split.port !== undefined && split.port > 65535) || !normalizeHost(split.host)) return false;
  if (validHostValues.size >= 4096) validHostValues.clear();
  validHostValues.add(value);
  return true;
}
