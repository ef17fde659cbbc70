/**
 * Where a forward request goes. A forward listener accepts the absolute-form request target
 * (`GET http://host:port/path`, RFC 9112 §3.2.2); inside an intercepted TLS tunnel requests are
 * origin-form and the tunnel's CONNECT authority names the destination. The host is normalised once
 * here (core/host.ts) so the ACL, block list, SSRF guard and cache all see one spelling.
 */
import type { RequestContext } from '../core/context.js';
import { ProxyError } from '../core/errors.js';
import type { Stage } from '../core/pipeline.js';
import { normalizeHost, splitAuthority, type HostKind } from '../core/host.js';

export { splitAuthority };

export interface ForwardTarget {
  readonly scheme: 'http' | 'https';
  /** Normalised host: lower-case name, dotted-quad IPv4 or bare IPv6. */
  readonly host: string;
  readonly kind: HostKind;
  readonly port: number;
  /** `host[:port]` for Host and URLs: IPv6 in brackets, the scheme's default port left out. */
  readonly authority: string;
}

/** The CONNECT a decrypted request arrived through (TLS interception). */
export interface TunnelInfo {
  readonly target: ForwardTarget;
  readonly user?: string;
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;
const ABSOLUTE = /^(https?):\/\/([^/?#]*)([^#]*)/i;

const targets = new WeakMap<RequestContext, ForwardTarget>();
const parsedAuthorities = new Map<string, ForwardTarget>();
const tunnels = new WeakMap<object, TunnelInfo>();

/** The parsed destination of a request (set by `absoluteFormStage` or the CONNECT stage). */
export const targetOf = (ctx: RequestContext): ForwardTarget | undefined => targets.get(ctx);
export const setTarget = (ctx: RequestContext, t: ForwardTarget): void => void targets.set(ctx, t);

/** Marks a decrypted socket as belonging to an intercepted CONNECT. */
export const setTunnel = (socket: object, info: TunnelInfo): void => void tunnels.set(socket, info);
export const tunnelOf = (ctx: RequestContext): TunnelInfo | undefined => tunnels.get(ctx.req.socket);

/** Builds a target from raw host and port text; undefined when the host is not a valid host. */
export function makeTarget(scheme: 'http' | 'https', rawHost: string, port: number): ForwardTarget | undefined {
  const n = normalizeHost(rawHost);
  if (!n || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const hostText = n.kind === 'ipv6' ? `[${n.host}]` : n.host;
  return { scheme, host: n.host, kind: n.kind, port, authority: port === DEFAULT_PORT[scheme] ? hostText : `${hostText}:${port}` };
}


/** Parses an absolute-form target into the destination and the origin-form path, or says why not. */
export function parseAbsoluteForm(url: string): { target: ForwardTarget; path: string } | string {
  const m = ABSOLUTE.exec(url);
  if (!m) return 'a forward proxy needs an absolute-form request target (http://host/path)';
  const scheme = m[1]!.toLowerCase() as 'http' | 'https';
  const authority = m[2]!;
  // userinfo in a request target is deprecated (RFC 9110 §4.2.4) and a classic way to disguise a host
  if (authority.includes('@')) return 'user information in the request target is not allowed';
  // clients send the same few authorities over and over: normalising (a URL parse) once each is enough
  const memoKey = scheme === 'http' ? authority : `https ${authority}`;
  let target = parsedAuthorities.get(memoKey);
  if (target === undefined) {
    const split = splitAuthority(authority);
    target = split && makeTarget(scheme, split.host, split.port ?? DEFAULT_PORT[scheme]);
    if (!target) return `invalid host in request target ${JSON.stringify(authority)}`;
    if (parsedAuthorities.size >= 2048) parsedAuthorities.clear();
    parsedAuthorities.set(memoKey, target);
  }
  const rest = m[3]!;
  const path = rest === '' ? '/' : rest[0] === '?' ? `/${rest}` : rest;
  return { target, path };
}

/** Checks that the Host header (exactly one) names the same host and port as the target. */
export function hostAgrees(rawHeaders: readonly string[], target: ForwardTarget, optional: boolean): string | undefined {
  let host: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 4 || rawHeaders[i]!.toLowerCase() !== 'host') continue;
    if (host !== undefined) return 'more than one Host header';
    host = rawHeaders[i + 1]!;
  }
  if (host === undefined) return optional ? undefined : 'missing Host header';
  if (host === target.authority) return undefined; // the common case, no parsing
  const split = splitAuthority(host.trim());
  const other = split && makeTarget(target.scheme, split.host, split.port ?? DEFAULT_PORT[target.scheme]);
  if (!other || other.host !== target.host || other.port !== target.port) {
    return `Host header ${JSON.stringify(host)} disagrees with the request target ${target.authority}`;
  }
  return undefined;
}

/**
 * Parses the request target: absolute-form (or origin-form inside an intercepted tunnel) → the
 * destination, and `ctx.path` becomes origin-form (what goes upstream; plugins' `rewrite_path`
 * replaces it and keeps the destination). Anything else, or a conflicting Host, is 400.
 */
export const absoluteFormStage: Stage = {
  name: 'absolute-form',
  handle(ctx, next) {
    const url = ctx.req.url ?? '';
    const tunnel = tunnelOf(ctx);
    let target: ForwardTarget;
    if (tunnel && url.startsWith('/')) {
      target = tunnel.target;
      const why = hostAgrees(ctx.req.rawHeaders, target, false);
      if (why) throw new ProxyError('bad_request', why);
      ctx.path = url;
    } else {
      const parsed = parseAbsoluteForm(url);
      if (typeof parsed === 'string') throw new ProxyError('bad_request', parsed);
      target = parsed.target;
      // inside a tunnel an absolute-form target must still name the tunnel's destination
      if (tunnel && (target.host !== tunnel.target.host || target.port !== tunnel.target.port)) {
        throw new ProxyError('bad_request', `request target ${target.authority} is not the tunnel's ${tunnel.target.authority}`);
      }
      const why = hostAgrees(ctx.req.rawHeaders, target, true);
      if (why) throw new ProxyError('bad_request', why);
      ctx.path = parsed.path;
    }
    targets.set(ctx, target);
    return next();
  },
};
