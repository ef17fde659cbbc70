/**
 * Types for Gatehouse plugins. In a TypeScript plugin:
 *
 *   import type { RequestView, PluginContext, RequestDecision } from '../gatehouse-plugin.js';
 *   export function onRequest(req: RequestView, ctx: PluginContext): RequestDecision { ... }
 *
 * (`import type` is erased when the plugin is transpiled; any other import is refused.)
 * In a JavaScript plugin, JSDoc works too: `/** @param {import('../gatehouse-plugin.js').RequestView} req *\/`.
 */

/** Request header values are strings (repeated headers joined with ", ", cookies with "; "). Names are lower-case. */
export type Headers = Record<string, string>;

/** A copy of the request. Changing it changes nothing: return a decision instead. */
export interface RequestView {
  readonly id: string;
  readonly mode: 'forward' | 'reverse';
  readonly method: string;
  /** Absolute URL, e.g. `http://example.com/a?b=1`. */
  readonly url: string;
  /** Host name without port. */
  readonly host: string;
  /** Path without query, starting with `/`. */
  readonly path: string;
  /** Query string without `?` (`''` when none). */
  readonly query: string;
  readonly headers: Readonly<Headers>;
  readonly client: { readonly ip: string; readonly port: number; readonly user: string | null };
  /**
   * TLS of the client connection, or null. `client_cert`: the client certificate on listeners with
   * `tls.client_ca` (subject like `CN=alice, O=Example`, SHA-256 fingerprint, whether it chained to client_ca), else null.
   */
  readonly tls: {
    readonly sni: string | null; readonly version: string;
    readonly client_cert: { readonly subject: string; readonly fingerprint256: string; readonly verified: boolean } | null;
  } | null;
  /** How the client spoke: `HTTP/1.1`, `HTTP/1.0` or `HTTP/2`. */
  readonly protocol: string;
  /** Name of the matched route (reverse mode), else null. */
  readonly route: string | null;
  /**
   * True when the request is a simulation (`POST /simulate`, `gatehouse simulate`): nothing is sent
   * anywhere. A plugin that keeps state (counters, rate limits) should decide as usual but change nothing.
   */
  readonly dry_run: boolean;
}

/** The response head in `onResponse`. `set-cookie` is an array. */
export interface ResponseView {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
}

/** `ctx.config` is the `options` object of the plugin's config entry (deep-frozen). */
export interface PluginContext<Options = Record<string, unknown>> {
  readonly config: Readonly<Options>;
}

/** A header value to set: a string (or number), or several values (e.g. several set-cookie). */
export type HeaderValue = string | number | (string | number)[];

export type RequestDecision =
  | void | null | undefined
  | { deny: { status: number; reason?: string } }
  | { respond: { status: number; headers?: Record<string, HeaderValue>; body?: string } }
  | { set_headers?: Record<string, HeaderValue>; remove_headers?: string[]; rewrite_path?: string };

export type RouteDecision = void | null | undefined | { pool: string } | { upstream: string };

export type ResponseDecision =
  | void | null | undefined
  | { set_headers?: Record<string, HeaderValue>; remove_headers?: string[]; status?: number };

/** Filter: runs before routing and before the cache. */
export type OnRequest<O = Record<string, unknown>> = (req: RequestView, ctx: PluginContext<O>) => RequestDecision;
/** Routing: pick a configured pool or one of its upstreams. */
export type Route<O = Record<string, unknown>> = (req: RequestView, ctx: PluginContext<O>) => RouteDecision;
/** Filter: adjust the response head. */
export type OnResponse<O = Record<string, unknown>> = (res: ResponseView, req: RequestView, ctx: PluginContext<O>) => ResponseDecision;

export interface PluginLog {
  /** Arguments are turned into strings and joined with spaces; lines are capped at 2048 characters. */
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

declare global {
  /** Reaches the proxy's log tagged with the plugin's name; rate-limited (20 lines per call, 100 per second). */
  const log: PluginLog;
}
