/**
 * Header hygiene shared by both modes: hop-by-hop fields (RFC 9110 §7.6.1) and those named in
 * Connection are removed both ways; Proxy-Authorization is never forwarded.
 */

/** Fields that belong to one connection only, never forwarded in either direction. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'proxy-authorization', 'proxy-authenticate', 'http2-settings',
]);

/** Lower-case names listed in a Connection header value (undefined when there are none). */
export function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  // the usual values list no field names: skip the split (this runs on most responses)
  if (value === 'keep-alive' || value === 'close') return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  let names: Set<string> | undefined;
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase();
    if (name && name !== 'close' && name !== 'keep-alive' && name !== 'upgrade') (names ??= new Set()).add(name);
  }
  return names;
}

export interface UpstreamHeaderOptions {
  /** `1.1 <node_id>` appended to Via. */
  via: string;
  requestId: string;
  /** X-Forwarded-For value to send, or undefined to send none (forward mode privacy). */
  forwardedFor?: string;
  /** Forwarded and X-Real-IP to send (client-address.ts forwardedValues), or undefined to send none. */
  forwarded?: { forwarded: string; realIp: string };
  /** X-Forwarded-Proto and -Host, reverse mode only. */
  forwardedProto?: string;
  forwardedHost?: string;
  /** Keep Upgrade and Connection: upgrade (WebSocket handshakes). */
  upgrade?: boolean;
  set?: readonly [string, string][];
  remove?: readonly string[];
  /** Names never forwarded: droppedRequestFields(the listener's strip_request_headers), built once per listener. */
  dropped?: ReadonlySet<string>;
}

/**
 * Names the proxy sets itself, so the client's copies are dropped; and Expect, which node:http has
 * already answered with 100 Continue.
 */
const REPLACED = ['x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-real-ip', 'expect'];

/** The request fields never forwarded, in one set: hop-by-hop, those the proxy sets itself, and `strip` (lower-cased). */
export function droppedRequestFields(strip: readonly string[] = []): ReadonlySet<string> {
  return new Set([...HOP_BY_HOP, ...REPLACED, ...strip.map((h) => h.toLowerCase())]);
}

const DROPPED = droppedRequestFields();

/**
 * Builds the upstream request's header list (flat, lower-case names) from the client's raw headers.
 * One pass, no intermediate objects: this runs for every request.
 */
export function upstreamRequestHeaders(raw: readonly string[], opts: UpstreamHeaderOptions): string[] {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      listed = connectionListed(raw[i + 1]);
      break;
    }
  }
  const out: string[] = [];
  const dropped = opts.dropped ?? DROPPED;
  let via: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (dropped.has(name) || listed?.has(name) || opts.remove?.includes(name)) continue;
    if (name === 'via') { via = via ? `${via}, ${raw[i + 1]}` : raw[i + 1]; continue; }
    out.push(name, raw[i + 1]!);
  }
  if (opts.set) for (const [n, v] of opts.set) setHeader(out, n, v);
  out.push('via', via ? `${via}, ${opts.via}` : opts.via, 'x-request-id', opts.requestId);
  if (opts.forwardedFor !== undefined) out.push('x-forwarded-for', opts.forwardedFor);
  if (opts.forwarded !== undefined) out.push('forwarded', opts.forwarded.forwarded, 'x-real-ip', opts.forwarded.realIp);
  if (opts.forwardedProto !== undefined) out.push('x-forwarded-proto', opts.forwardedProto);
  if (opts.forwardedHost !== undefined) out.push('x-forwarded-host', opts.forwardedHost);
  if (opts.upgrade) out.push('connection', 'upgrade', 'upgrade', headerValue(raw, 'upgrade') ?? 'websocket');
  return out;
}

/** Replaces every occurrence of a header in a flat list, or appends it. */
export function setHeader(list: string[], name: string, value: string): void {
  let found = false;
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] === name) {
      if (found) { list.splice(i, 2); i -= 2; } else { list[i + 1] = value; found = true; }
    }
  }
  if (!found) list.push(name, value);
}

/** Removes every occurrence of a header from a flat list. */
export function removeHeader(list: string[], name: string): void {
  for (let i = list.length - 2; i >= 0; i -= 2) if (list[i] === name) list.splice(i, 2);
}

/** First value of a header in a flat raw list, matching names case-insensitively. */
function headerValue(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) return raw[i + 1];
  return undefined;
}

/**
 * Converts an upstream's response headers (undici's parsed record, lower-case names) into the client's
 * flat list, dropping hop-by-hop and Connection-listed fields and adding Via and X-Request-Id.
 */
export function downstreamResponseHeaders(headers: Record<string, string | string[] | undefined>, via: string, requestId: string): string[] {
  const out: string[] = [];
  const listed = headers.connection !== undefined ? connectionListed(headers.connection) : undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'x-request-id' || name === 'via' || listed?.has(name)) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  const prior = headers.via;
  out.push('via', prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${via}` : via, 'x-request-id', requestId);
  return out;
}
