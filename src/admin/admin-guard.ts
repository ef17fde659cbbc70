/**
 * What keeps a browser on the admin's machine away from the admin API. The API listens on loopback by
 * default, but any web page can make the browser send requests there: a page of another site (cross-site
 * POST, no preflight needed for a "simple" request) or, through DNS rebinding, a name of the attacker's
 * that now resolves to 127.0.0.1. So: Host must be an IP address, a loopback name or the admin address's
 * name (rebinding always carries a name of the attacker's), and changing calls refuse requests a browser marks as coming from
 * another origin (Origin, Sec-Fetch-Site). Tools such as curl send neither header.
 */
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from '../config/admin-exposure.js';
import { parseListen } from '../config/shape.js';
import { splitAuthority } from '../core/host.js';

/** The host part of a Host header or an origin's authority: `[v6]` brackets kept off, port dropped; unsplittable text as is. */
function hostOf(authority: string): string {
  const host = splitAuthority(authority)?.host ?? authority;
  return (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host).toLowerCase();
}

export class AdminGuard {
  readonly #listenHost: string;

  constructor(listen: string) {
    this.#listenHost = hostOf(parseListen(listen).host);
  }

  /** Host (the DNS-rebinding check): an IP address, a loopback name, or the name admin.listen gives. */
  hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (!host) return false;
    const name = hostOf(host);
    return isIP(name) !== 0 || isLoopbackHost(name) || name === this.#listenHost;
  }

  /** Why a changing call is refused as cross-site, or undefined when it may go on. */
  crossSite(req: IncomingMessage): string | undefined {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site: ${site}`;
    const origin = req.headers.origin;
    if (origin === undefined) return undefined;
    let authority: string;
    try { authority = new URL(origin).host; } catch { return `Origin: ${origin}`; }
    return authority && authority.toLowerCase() === (req.headers.host ?? '').toLowerCase() ? undefined : `Origin: ${origin}`;
  }
}
