/** The validated, normalised configuration: durations in ms, sizes in bytes. */

export interface Limits {
  max_header_size: number;
  max_headers: number;
  max_body_size: number;
  header_timeout: number;
  idle_timeout: number;
  max_connections: number;
  max_connections_per_ip: number;
  per_ip_exempt: string[];
  body_timeout: number;
  body_min_rate: number;
  send_timeout: number;
  rate: { per_ip: number };
}

/** A plugin entry: a file name, or a file with options and an error policy. */
export type PluginEntry = string | { file: string; options?: Record<string, unknown>; on_error?: 'fail_closed' | 'fail_open' };

export interface AclMatch {
  src?: string[]; user?: string[]; group?: string[]; dst_domain?: string[];
  dst_port?: (number | string)[]; method?: string[];
  time?: { days?: string[]; hours?: string; zone?: string };
}
export interface AclRule { name?: string; allow?: AclMatch; deny?: AclMatch }

export interface ForwardListener {
  listen: string;
  auth: { realm: string; users_file: string; groups_file: string };
  acl: AclRule[];
  block_domains: string[];
  block_lists: string[];
  block_urls: (string | { name?: string; glob?: string; url_regex?: string; urlpath_regex?: string; flags?: string })[];
  connect_ports: number[];
  allow_private_destinations: boolean;
  allow_destinations: string[];
  x_forwarded_for: boolean;
  cache: boolean;
  strip_request_headers: string[];
  intercept_tls: { enabled: boolean; ca: string; ca_key: string; upstream_ca: string };
  parent: string;
  direct_domains: string[];
  pac: { internal_domains: string[]; proxy: string };
  connect_idle_timeout: number;
  connect_timeout: number;
  plugins: PluginEntry[];
  trace_context: boolean;
  limits: Limits;
}

export interface RouteMatch { host?: string; path_prefix?: string; headers?: Record<string, string> }
export interface Route {
  name: string;
  match: RouteMatch;
  pool?: string;
  respond?: { status: number; body: string; headers: Record<string, string> };
  cache: boolean;
  strip_prefix: boolean;
  /** Upgrade protocols tunnelled on this route (default: websocket). */
  upgrades: string[];
  plugins: PluginEntry[];
}

export interface AcmeConfig {
  directory: string; email: string; domains: string[]; challenge: 'http-01';
  eab?: { kid: string; hmac_key: string }; dir: string; directory_ca: string;
}
export interface ReverseTls {
  certs: { cert: string; key: string }[]; acme?: AcmeConfig; min_version: 'TLSv1.2' | 'TLSv1.3'; hsts: string;
  client_ca: string; client_cert: 'optional' | 'require';
}

export interface ReverseListener {
  listen: string;
  tls?: ReverseTls;
  redirect_https: boolean;
  routes: Route[];
  purge_acl: string[];
  paths: { merge_slashes: boolean; escaped_slashes: 'keep' | 'reject' | 'decode' };
  strip_request_headers: string[];
  trace_context: boolean;
  limits: Limits;
  /** false: HTTP/1.1 only. */
  http2: Http2Options | false;
}

export interface Http2Options {
  cleartext: boolean;
  max_concurrent_streams: number;
  max_resets: number;
  resets_per_second: number;
  max_pings: number;
  max_settings: number;
}

export interface TcpListener { listen: string; pool: string; idle_timeout: number; max_connections: number }

export interface HealthConfig {
  path: string; interval: number; timeout: number; fall: number; rise: number;
  expect_status: (number | string)[]; expect_body: string; host: string;
}
export interface PoolConfig {
  balance: 'round_robin' | 'weighted_round_robin' | 'least_conn' | 'ip_hash' | 'consistent_hash' | 'least_time' | 'random_two';
  hash_key: string;
  tls: { ca: string; servername: string; cert: string; key: string; insecure_skip_verify: boolean };
  upstreams: { url: string; weight: number }[];
  health?: HealthConfig;
  passive?: { max_failures: number; window: number; eject: number; on_5xx: boolean };
  sticky?: { mode: 'cookie' | 'ip'; cookie: string; secure: boolean; http_only: boolean; same_site: 'Strict' | 'Lax' | 'None'; secret: string };
  retries: number;
  connect_timeout: number;
  response_timeout: number;
  keepalive: number;
  queue_timeout: number;
  max_queue: number;
  slow_start: number;
}

export interface GatehouseConfig {
  node_id: string;
  via_name: string;
  shutdown_timeout: number;
  trusted_proxies: string[];
  workers: number;
  demo_origins: string[];
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; format: 'json' | 'pretty'; file: string; trace: boolean };
  trace: { allow: string[]; keep: number };
  admin: { listen: string; token: string };
  limits: Limits;
  cache: { max_size: number; max_object_size: number; stale_grace: number };
  tracing: { otlp_endpoint: string; service_name: string };
  shared: { redis: string; key_prefix: string; timeout: number; tls_ca: string };
  plugins: { dir: string; memory_limit: number; cpu_limit: number; timeout: number; isolation: 'process'; watch: boolean };
  forward: ForwardListener[];
  reverse: ReverseListener[];
  tcp: TcpListener[];
  pools: Record<string, PoolConfig>;
}
