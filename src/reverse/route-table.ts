/** Reverse-mode routes, compiled once: host (exact or *.wildcard), path prefix, header values. First match wins. */
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteInfo } from '../core/context.js';
import type { Route } from '../config/types.js';
import { normaliseHost } from '../core/host.js';


export interface CompiledRoute extends RouteInfo {
  readonly pool?: string;
  readonly config: Route;
  readonly pathPrefix: string;
  readonly stripPrefix: boolean;
  /** Upgrade protocols tunnelled on this route, lower-case. */
  readonly upgrades: ReadonlySet<string>;
  /** Prebuilt direct response of a `respond` route. */
  readonly respond?: { status: number; headers: string[]; body: Buffer };
}

type Matcher = (host: string, path: string, headers: IncomingHttpHeaders) => boolean;

function hostMatcher(pattern: string): (host: string) => boolean {
  const p = normaliseHost(pattern);
  // `*.example.com` matches any name under example.com (not example.com itself), as nginx's wildcards.
  if (p.startsWith('*.')) {
    const suffix = p.slice(1);
    return (host) => host.length > suffix.length && host.endsWith(suffix);
  }
  return (host) => host === p;
}

/**
 * `/api` matches `/api`, `/api/…`, `/api?…` and `/api;params` (Java servers serve `/api;x` as `/api`) but
 * not `/apiary`; a prefix ending in `/` is a plain prefix.
 */
function pathMatcher(prefix: string): (path: string) => boolean {
  if (prefix.endsWith('/')) return (path) => path.startsWith(prefix);
  return (path) => {
    if (!path.startsWith(prefix)) return false;
    const next = path[prefix.length];
    return next === undefined || next === '/' || next === '?' || next === ';';
  };
}

function compile(route: Route): { route: CompiledRoute; matches: Matcher } {
  const checks: Matcher[] = [];
  const { host, path_prefix, headers } = route.match;
  if (host) { const m = hostMatcher(host); checks.push((h) => m(h)); }
  if (path_prefix) { const m = pathMatcher(path_prefix); checks.push((_h, p) => m(p)); }
  if (headers) {
    for (const [name, value] of Object.entries(headers)) {
      const key = name.toLowerCase();
      checks.push((_h, _p, hs) => hs[key] === value);
    }
  }
  let respond: CompiledRoute['respond'];
  if (route.respond) {
    const body = Buffer.from(route.respond.body);
    const hs = Object.entries(route.respond.headers).flatMap(([k, v]) => [k.toLowerCase(), v]);
    if (!hs.includes('content-type')) hs.push('content-type', 'text/plain; charset=utf-8');
    respond = { status: route.respond.status, headers: hs, body };
  }
  const compiled: CompiledRoute = {
    name: route.name, pool: route.pool, cache: route.cache, config: route,
    pathPrefix: path_prefix ?? '', stripPrefix: route.strip_prefix && !!path_prefix, respond,
    upgrades: new Set((route.upgrades ?? ['websocket']).map((u) => u.toLowerCase())),
  };
  const matches: Matcher = checks.length === 0 ? () => true
    : checks.length === 1 ? checks[0]!
      : (h, p, hs) => { for (const c of checks) if (!c(h, p, hs)) return false; return true; };
  return { route: compiled, matches };
}

export class RouteTable {
  readonly #routes: { route: CompiledRoute; matches: Matcher }[];
  /** Every upgrade protocol some route accepts (lower-case): the listener's first check of an Upgrade request. */
  readonly upgrades: ReadonlySet<string>;
  constructor(routes: readonly Route[]) {
    this.#routes = routes.map(compile);
    this.upgrades = new Set(this.#routes.flatMap((r) => [...r.route.upgrades]));
  }
  get routes(): CompiledRoute[] { return this.#routes.map((r) => r.route); }
  match(host: string, path: string, headers: IncomingHttpHeaders): CompiledRoute | undefined {
    for (const r of this.#routes) if (r.matches(host, path, headers)) return r.route;
    return undefined;
  }
}
