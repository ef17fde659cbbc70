/**
 * The data that crosses the plugin boundary: request/response views going in, decisions and
 * typed call results coming out. Only plain JSON-like data ever crosses (copied both ways).
 */

export type HookName = 'onRequest' | 'route' | 'onResponse';
export const HOOKS: readonly HookName[] = ['onRequest', 'route', 'onResponse'];

/** Request header values are strings (repeated headers joined with ", ", cookies with "; "). */
export type HeaderView = Record<string, string>;

/** The copy of the request a plugin sees (CONTRACT `req`). Header names are lower-case. */
export interface RequestView {
  id: string;
  mode: 'forward' | 'reverse';
  method: string;
  /** Absolute URL as the proxy understood it, e.g. `http://example.com/a?b=1`. */
  url: string;
  /** Host name (no port) from the request target or Host header. */
  host: string;
  /** Path without the query, always starting with `/` (for CONNECT: `host:port`). */
  path: string;
  /** Raw query string without the `?` ('' when none). */
  query: string;
  headers: HeaderView;
  client: { ip: string; port: number; user: string | null };
  /** `client_cert`: the mTLS client certificate (subject DN, SHA-256 fingerprint, whether it chained to client_ca), or null. */
  tls: { sni: string | null; version: string; client_cert: { subject: string; fingerprint256: string; verified: boolean } | null } | null;
  /** How the client spoke: `HTTP/1.1`, `HTTP/1.0` or `HTTP/2`. */
  protocol: string;
  /** The matched route's name (reverse) or null (forward, or no route yet). */
  route: string | null;
  /** True when the request is a simulation (POST /simulate, gatehouse simulate): nothing will be sent. */
  dry_run: boolean;
}

/** The response head a plugin sees in `onResponse`. `set-cookie` stays an array. */
export interface ResponseView {
  status: number;
  headers: Record<string, string | string[]>;
}

/** Header values a decision may set: a string, or several (each sent as its own field line). */
export type HeaderValue = string | string[];

export interface DenyDecision { deny: { status: number; reason: string } }
export interface RespondDecision { respond: { status: number; headers: Record<string, HeaderValue>; body: string } }
export interface RewriteDecision {
  set_headers?: Record<string, HeaderValue>;
  remove_headers?: string[];
  /** New path (and query, when it contains `?`; otherwise the original query is kept). */
  rewrite_path?: string;
}
/** onRequest: `null` = continue unchanged. */
export type RequestDecision = DenyDecision | RespondDecision | RewriteDecision | null;
/** route: `null` = keep the route's pool. `upstream` is the configured spelling of the URL. */
export type RouteDecision = { pool: string } | { upstream: string } | null;
/** onResponse: `null` = unchanged. */
export type ResponseDecision = { set_headers?: Record<string, HeaderValue>; remove_headers?: string[]; status?: number } | null;

export interface DecisionFor {
  onRequest: RequestDecision;
  route: RouteDecision;
  onResponse: ResponseDecision;
}

export type PluginErrorKind = 'timeout' | 'oom' | 'crashed' | 'throw' | 'malformed' | 'quarantined' | 'disposed';
export type CallOutcome = 'ok' | PluginErrorKind;
export type OnError = 'fail_closed' | 'fail_open';

/** What every hook call returns. Never thrown: failures are values. */
export type CallResult<D> =
  | { ok: true; decision: D }
  | { ok: false; error: { kind: PluginErrorKind; message: string }; onError: OnError };

/** The configured pools a `route` decision may name (checked on every call). */
export interface RouteTargets {
  hasPool(name: string): boolean;
  /** The configured spelling of `url` when it is an upstream of some pool, else undefined. */
  findUpstream(url: string): string | undefined;
}

/** Pino-compatible sink for plugin log lines and host events. */
export interface PluginLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Events for metrics (prom-client is bound by the caller). */
export interface PluginObserver {
  /** Every hook call: `gatehouse_plugin_calls_total{plugin,hook,outcome}`, `gatehouse_plugin_duration_seconds`. */
  onCall?(e: { plugin: string; hook: HookName; outcome: CallOutcome; seconds: number }): void;
  /** The isolate was terminated (timeout, oom, cpu watchdog, crash) and will be rebuilt. */
  onTermination?(e: { plugin: string; kind: PluginErrorKind; message: string }): void;
  /** active <-> quarantined, and reloads. */
  onStateChange?(e: { plugin: string; state: PluginState; version: string }): void;
}

export type PluginState = 'active' | 'quarantined';

/** Per-plugin figures for /status and metrics. Counters survive reloads. */
export interface PluginStats {
  name: string;
  file: string;
  version: string;
  state: PluginState;
  hooks: HookName[];
  onError: OnError | 'default';
  calls: Record<HookName, Partial<Record<CallOutcome, number>>>;
  errors: number;
  terminations: number;
  /** Plugin processes started again after one ended. */
  restarts: number;
  reloads: number;
  heapBytes: number;
  /** The plugin process (null while it restarts, or quarantined). */
  pid: number | null;
  logsDropped: number;
  lastError: { kind: PluginErrorKind; message: string; at: string } | null;
  loadedAt: string;
}
