/**
 * The one schema of Gatehouse's configuration. Top-level keys are a convict schema (typed, documented,
 * defaulted, settable from GATEHOUSE_* environment variables); the listener and pool lists, which convict
 * cannot describe element by element, are described here too with the same doc/default style (see shape.ts).
 */
import os from 'node:os';
import convict from 'convict';
import {
  any, array, bool, conform, cidr, duration, either, field, int, listen, map, object, size, str, url, type Shape,
} from './shape.js';
import { BALANCER_NAMES } from './balancer-names.js';
import { parseDuration, parseSize } from './units.js';

const f = field;

convict.addFormat({ name: 'duration', validate: (v: unknown) => { parseDuration(v); }, coerce: (v: string) => v });
convict.addFormat({ name: 'size', validate: (v: unknown) => { parseSize(v); }, coerce: (v: string) => v });
convict.addFormat({
  name: 'cidr-list',
  validate: (v: unknown) => {
    if (!Array.isArray(v)) throw new Error('must be a list of CIDRs');
    const problems: string[] = [];
    v.forEach((c, i) => conformOrThrow(c, cidr, `[${i}]`, problems));
    if (problems.length) throw new Error(problems.join('; '));
  },
  coerce: (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean),
});
convict.addFormat({
  name: 'listen-list',
  validate: (v: unknown) => {
    if (!Array.isArray(v)) throw new Error('must be a list of host:port');
    for (const x of v) conformOrThrow(x, listen, '', []);
  },
  coerce: (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean),
});
convict.addFormat({
  name: 'redis-url',
  validate: (v: unknown) => {
    if (v === '') return;
    if (typeof v !== 'string' || !/^rediss?:\/\/[^/]/.test(v)) throw new Error('must be a redis:// or rediss:// URL, or empty');
    try { new URL(v); } catch { throw new Error('must be a redis:// or rediss:// URL, or empty'); }
  },
  coerce: (v: string) => v,
});
convict.addFormat({
  name: 'otlp-url',
  validate: (v: unknown) => {
    if (v === '') return;
    if (typeof v !== 'string' || !/^https?:\/\/[^/]/.test(v)) throw new Error('must be an http:// or https:// URL, or empty');
  },
  coerce: (v: string) => v,
});
convict.addFormat({ name: 'listen', validate: (v: unknown) => { conformOrThrow(v, listen, '', []); }, coerce: (v: string) => v });
function conformOrThrow(v: unknown, shape: Shape, path: string, problems: string[]) {
  conform(v, shape, path, problems);
  if (problems.length) throw new Error(problems.map((p) => p.replace(/^[^:]*: /, '')).join('; '));
}

const limitsDoc = {
  max_header_size: { doc: 'Largest request head accepted, and trailers with it; over it: 431.', format: 'size', default: '16KB' },
  max_headers: { doc: 'Most fields in a request head, and separately in its trailers; over it: 431 (Envoy\'s default). 0 = no limit.', format: 'nat', default: 100 },
  max_body_size: { doc: 'Largest request body accepted; over it: 413. 0 = no limit.', format: 'size', default: '10MB' },
  header_timeout: { doc: 'Time a client has to send the request head; over it: 408 (slowloris guard).', format: 'duration', default: '10s' },
  idle_timeout: { doc: 'Idle keep-alive time of client connections.', format: 'duration', default: '60s' },
  max_connections: { doc: 'Client connections accepted at once per listener; past it new connections are closed at once (the newest is refused, established ones are kept).', format: 'nat', default: 10000 },
  max_connections_per_ip: { doc: 'Client connections one address may hold at once per listener; more are closed at once. 0 = no limit.', format: 'nat', default: 256 },
  per_ip_exempt: { doc: 'Client CIDRs max_connections_per_ip does not apply to (NAT gateways, load balancers in front).', format: 'cidr-list', default: [] },
  body_timeout: { doc: 'Longest gap between two reads of a request body while the proxy waits for it; over it: 408 and close. 0 = none.', format: 'duration', default: '30s' },
  body_min_rate: { doc: 'After body_timeout, a request body must average this many bytes per second; slower: 408 and close. 0 = no minimum.', format: 'size', default: '512B' },
  send_timeout: { doc: 'Longest time a client may take no response byte while the response waits for it (as nginx send_timeout); over it the connection is closed and the upstream request aborted. 0 = none.', format: 'duration', default: '60s' },
  rate: { per_ip: { doc: 'Requests per second per client IP; 0 = off; over it: 429.', format: 'nat', default: 0 } },
} as const;

/** Convict schema of the top-level keys. Env var names are generated: GATEHOUSE_ + upper-snake key path. */
export const topSchema = {
  node_id: { doc: 'Name of this node in logs, Via and metrics.', format: String, default: os.hostname() },
  via_name: {
    doc: 'Name this instance adds to Via; a request whose Via already carries it is a loop (508). Must be unique per instance. Empty: node_id plus a random suffix chosen at start.',
    format: String, default: '',
  },
  shutdown_timeout: { doc: 'How long SIGTERM/SIGINT wait for in-flight requests.', format: 'duration', default: '10s' },
  trusted_proxies: { doc: 'Peers whose X-Forwarded-For we believe (CIDRs).', format: 'cidr-list', default: ['127.0.0.1/32', '::1/128'] },
  demo_origins: {
    doc: 'Built-in sample origin servers to start (host:port each), for trying Gatehouse out; [] in production.',
    format: 'listen-list', default: [],
  },
  workers: { doc: 'Worker processes; 0 = one per CPU core, 1 = single process.', format: 'nat', default: 1 },
  log: {
    level: { doc: 'Log level.', format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    format: { doc: 'json (one object per line) or pretty (for humans: one line per entry).', format: ['json', 'pretty'], default: 'json' },
    file: { doc: 'Write logs to this file instead of stdout; empty = stdout.', format: String, default: '' },
    trace: { doc: 'Add each request\'s decision trace to its access line (`trace` field; see docs/trace.md).', format: Boolean, default: false },
  },
  trace: {
    allow: { doc: 'Clients (CIDRs) that get the decision trace of their request in the X-Gatehouse-Trace response header when they send `X-Gatehouse-Trace: 1`; [] = nobody.', format: 'cidr-list', default: [] },
    keep: { doc: 'Decision traces of the last N requests kept for the admin API (GET /trace/REQUEST_ID); 0 = none kept.', format: 'nat', default: 0 },
  },
  admin: {
    listen: { doc: 'Admin API address (keep it on loopback). Empty = no admin listener.', format: String, default: '127.0.0.1:9901' },
    token: { doc: 'Bearer token required by every mutating admin call; empty = none.', format: String, default: '', sensitive: true },
  },
  limits: limitsDoc,
  cache: {
    max_size: { doc: 'Bytes held by the cache (bodies and headers).', format: 'size', default: '256MB' },
    max_object_size: { doc: 'Largest response stored; larger ones stream through uncached.', format: 'size', default: '8MB' },
    stale_grace: { doc: 'How long a stale response may be served when the upstream fails, beyond stale-if-error.', format: 'duration', default: '0s' },
  },
  tracing: {
    otlp_endpoint: {
      doc: 'OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces): every request on a listener with trace_context becomes a span, '
        + 'sent in batches (JSON) by the OpenTelemetry SDK. Empty = no export, and the SDK is not loaded.',
      format: 'otlp-url', default: '',
    },
    service_name: { doc: 'service.name of the exported spans (service.instance.id is node_id).', format: String, default: 'gatehouse' },
  },
  shared: {
    redis: {
      doc: 'redis:// or rediss:// (TLS) URL of the Redis a fleet of instances shares, with user:password@ for AUTH; it makes rate limits, '
        + 'ip sticky tables, cache purges and admin pool changes fleet-wide (docs/fleet.md). Empty = each instance keeps its own.',
      format: 'redis-url', default: '', sensitive: true,
    },
    key_prefix: { doc: 'Prefix of every key and channel in Redis: one per fleet, so fleets can share a Redis.', format: String, default: 'gatehouse:' },
    timeout: {
      doc: 'Longest a request waits on Redis (rate limit, sticky lookup); past it, or while Redis is down, the instance decides on its own state.',
      format: 'duration', default: '25ms',
    },
    tls_ca: { doc: 'CA certificates (PEM file) trusted for a rediss:// server instead of the system roots; empty = system roots.', format: String, default: '' },
  },
  plugins: {
    dir: { doc: 'Directory plugin file names are relative to.', format: String, default: 'plugins' },
    memory_limit: { doc: 'Heap limit per plugin isolate; over it the call fails (oom) and the isolate is rebuilt.', format: 'size', default: '32MB' },
    cpu_limit: { doc: 'CPU time one hook call may use; over it the call fails (timeout).', format: 'duration', default: '50ms' },
    timeout: { doc: 'Wall time after which a hook call is stopped whatever its CPU (timeout); the plugin process is killed if it stays silent a second longer.', format: 'duration', default: '500ms' },
    isolation: { doc: 'Where plugins run: process (each plugin in its own supervised process; the only choice since in-process isolates could take the proxy down).', format: ['process'], default: 'process' },
    watch: { doc: 'Reload a plugin when its file changes (fs.watch on its directory, 100ms debounce); false = only on SIGHUP or POST /reload.', format: Boolean, default: true },
  },
} as const;

/** Listener-level `limits` override the top-level ones key by key. */
const limitsOverride = object({
  max_header_size: f('See limits.max_header_size.', size),
  max_headers: f('See limits.max_headers.', int(0)),
  max_body_size: f('See limits.max_body_size.', size),
  header_timeout: f('See limits.header_timeout.', duration),
  idle_timeout: f('See limits.idle_timeout.', duration),
  max_connections: f('See limits.max_connections.', int(1)),
  max_connections_per_ip: f('See limits.max_connections_per_ip.', int(0)),
  per_ip_exempt: f('See limits.per_ip_exempt.', array(cidr)),
  body_timeout: f('See limits.body_timeout.', duration),
  body_min_rate: f('See limits.body_min_rate.', size),
  send_timeout: f('See limits.send_timeout.', duration),
  rate: f('See limits.rate.', object({ per_ip: f('See limits.rate.per_ip.', int(0)) })),
});

const pluginEntry = either('a plugin file name or { file, options, on_error }',
  str({ nonEmpty: true }),
  object({
    file: f('Plugin file, relative to plugins.dir.', str({ nonEmpty: true }), undefined, true),
    options: f('Passed to the plugin as ctx.config.', any, {}),
    on_error: f('fail_closed (503) or fail_open (continue) when the plugin fails.', str({ oneOf: ['fail_closed', 'fail_open'] })),
  }));

const aclMatch = object({
  src: f('Client address CIDRs (the socket peer, never X-Forwarded-For).', array(cidr)),
  user: f('Authenticated user names.', array(str({ nonEmpty: true }))),
  group: f('Groups from auth.groups_file.', array(str({ nonEmpty: true }))),
  dst_domain: f('Destination names, exact or *.wildcard.', array(str({ nonEmpty: true }))),
  dst_port: f('Destination ports or ranges like "8000-8999".', array(either('a port or a range "a-b"', int(1, 65535), str({ nonEmpty: true })))),
  method: f('Request methods, e.g. CONNECT.', array(str({ nonEmpty: true }))),
  time: f('Days and hours in a zone.', object({
    days: f('mon..sun', array(str({ oneOf: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] }))),
    hours: f('"08:00-18:00"', str({ nonEmpty: true })),
    zone: f('IANA zone, default UTC.', str({ nonEmpty: true }), 'UTC'),
  })),
});

/**
 * Request headers some frameworks read as the real URL, host or method (IIS/Symfony/Laminas X-Original-URL,
 * method overrides…): an attacker's copy would reach the origin without being part of the cache key.
 */
export const DEFAULT_STRIPPED = [
  'x-original-url', 'x-rewrite-url', 'x-override-url', 'x-original-host', 'x-host', 'x-forwarded-server',
  'x-http-host-override', 'x-http-method-override', 'x-http-method', 'x-method-override',
];
const stripRequestHeaders = f('Request headers removed before forwarding (URL, host and method overrides some frameworks obey; '
  + 'the cache does not key on them). [] = none.', array(str({ nonEmpty: true })), DEFAULT_STRIPPED);

export const forwardShape = object({
  listen: f('Address to listen on.', listen, undefined, true),
  auth: f('Proxy-Authorization: Basic against an htpasswd file.', object({
    realm: f('Realm in Proxy-Authenticate.', str(), 'gatehouse'),
    users_file: f('htpasswd file; empty = no authentication.', str(), ''),
    groups_file: f('htgroup file (group: user user); empty = no groups.', str(), ''),
  }), {}),
  acl: f('Ordered rules, first match wins, no match = deny.', array(object({
    name: f('Rule name for logs.', str()),
    allow: f('Allow when all conditions match.', aclMatch),
    deny: f('Deny when all conditions match.', aclMatch),
  }, (r) => ((r.allow === undefined) === (r.deny === undefined) ? ['must have exactly one of allow or deny'] : []))),
  [{ allow: { src: ['127.0.0.0/8', '::1/128'] } }]),
  block_domains: f('Blocked destination names, exact or *.wildcard.', array(str({ nonEmpty: true })), []),
  block_lists: f('Files of blocked names, one per line.', array(str({ nonEmpty: true })), []),
  block_urls: f('Blocked URLs: globs over the path ("/ads/*") or host/path ("*.example.com/track*"), or { glob | url_regex | urlpath_regex, name, flags }.',
    array(either('a glob or { glob | url_regex | urlpath_regex }', str({ nonEmpty: true }), object({
      name: f('Rule name for logs and the block page; default block_urls[i].', str()),
      glob: f('Glob over the path, or host/path when it does not start with /.', str({ nonEmpty: true })),
      url_regex: f('Regular expression over the full URL.', str({ nonEmpty: true })),
      urlpath_regex: f('Regular expression over /path?query.', str({ nonEmpty: true })),
      flags: f('Regex flags (i, m, s, u).', str()),
    }))), []),
  connect_ports: f('Ports CONNECT may reach.', array(int(1, 65535)), [443]),
  allow_private_destinations: f('Turn the SSRF guard off.', bool, false),
  allow_destinations: f('CIDRs or host:port exempt from the SSRF guard.', array(str({ nonEmpty: true })), []),
  x_forwarded_for: f('Send X-Forwarded-For upstream (off for privacy).', bool, false),
  cache: f('Use the shared cache.', bool, true),
  strip_request_headers: stripRequestHeaders,
  intercept_tls: f('Decrypt CONNECT traffic with a CA of ours.', object({
    enabled: f('Turn interception on.', bool, false),
    ca: f('CA certificate.', str(), 'certs/ca.pem'),
    ca_key: f('CA key.', str(), 'certs/ca.key'),
    upstream_ca: f('Extra CA certificates (PEM file) trusted for destination servers, besides the system roots; empty = system roots only.', str(), ''),
  }), {}),
  parent: f('Parent proxy URL (http://user:pass@host:port); empty = direct.', either('an http:// URL or empty', str({ oneOf: [''] }), url('http:')), ''),
  direct_domains: f('Destinations reached directly even with a parent.', array(str({ nonEmpty: true })), []),
  pac: f('What GET /proxy.pac on this listener says.', object({
    internal_domains: f('Reached DIRECT by PAC clients.', array(str({ nonEmpty: true })), []),
    proxy: f('host:port clients should use; default: the listen address.', str(), ''),
  }), {}),
  connect_idle_timeout: f('Idle time after which a CONNECT tunnel is closed.', duration, '5m'),
  connect_timeout: f('Time to open a TCP connection to a destination or the parent; over it: 504.', duration, '10s'),
  plugins: f('Filter plugins, in order.', array(pluginEntry), []),
  trace_context: f('W3C Trace Context on plain HTTP requests, as on reverse listeners; off because traceparent would tell '
    + 'third-party destinations the trace ids of internal requests.', bool, false),
  limits: f('Overrides of the top-level limits.', limitsOverride, {}),
});

const respond = object({
  status: f('Status code.', int(100, 599), 200),
  body: f('Body text.', str(), ''),
  headers: f('Extra headers.', map(str()), {}),
});

const routeShape = object({
  name: f('Route name for logs and metrics; default: its index.', str()),
  match: f('All given conditions must match.', object({
    host: f('Host, exact or *.wildcard; case-insensitive.', str({ nonEmpty: true })),
    path_prefix: f('Path prefix, e.g. /api.', str({ nonEmpty: true })),
    headers: f('Header values that must be equal (names case-insensitive).', map(str())),
  }), {}),
  pool: f('Pool the route forwards to.', str({ nonEmpty: true })),
  respond: f('Direct response, no upstream.', respond),
  cache: f('Use the shared cache.', bool, false),
  strip_prefix: f('Remove match.path_prefix before forwarding.', bool, false),
  upgrades: f('Upgrade protocols tunnelled on this route (case-insensitive); an upgrade to any other is served as a plain request or refused (403). h2c is never tunnelled.', array(str({ nonEmpty: true })), ['websocket']),
  plugins: f('Filter and routing plugins, in order.', array(pluginEntry), []),
}, (r) => ((r.pool === undefined) === (r.respond === undefined) ? ['must have exactly one of pool or respond'] : []));

/** A reverse listener's `http2` options (`true` means all defaults, `false` HTTP/1.1 only). */
export const http2Shape = object({
  cleartext: f('Also accept HTTP/2 with prior knowledge (the connection preface) on a listener without `tls`. An `Upgrade: h2c` request is never honoured.', bool, false),
  max_concurrent_streams: f('Streams a client may have open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS); more are refused.', int(1), 100),
  max_resets: f('Stream resets by the client allowed in a burst before the rate below applies (rapid reset, CVE-2023-44487); over the budget the connection gets GOAWAY.', int(1), 200),
  resets_per_second: f('Stream resets per second the client earns back after the burst.', int(1), 50),
  max_pings: f('PING frames a client may send per 10 s; over it: GOAWAY (PING flood).', int(1), 100),
  max_settings: f('SETTINGS frames a client may send per 10 s; over it: GOAWAY (SETTINGS flood).', int(1), 100),
});

const acmeShape = object({
  directory: f('ACME directory URL, e.g. https://acme-v02.api.letsencrypt.org/directory.', url('https:'), undefined, true),
  email: f('Contact address given to the CA (expiry notices); empty = none.', str(), ''),
  domains: f('Names the certificate covers; the CA checks each one through HTTP-01, so they must reach a plain listener of this proxy on port 80.',
    array(str({ nonEmpty: true })), undefined, true),
  challenge: f('Challenge type: http-01 (tls-alpn-01 is not supported).', str({ oneOf: ['http-01'] }), 'http-01'),
  eab: f('External account binding, for CAs that require one (ZeroSSL, Google, step-ca).', object({
    kid: f('Key identifier given by the CA.', str({ nonEmpty: true }), undefined, true),
    hmac_key: f('Base64url MAC key given by the CA.', str({ nonEmpty: true }), undefined, true),
  })),
  dir: f('Directory holding the account key, certificates and the order lock (files 0600); instances sharing it order one at a time.', str({ nonEmpty: true }), 'certs/acme'),
  directory_ca: f('Extra CA certificates (PEM file) trusted for the directory\'s HTTPS besides the system roots (a private ACME CA); empty = system roots.', str(), ''),
});

export const reverseShape = object({
  listen: f('Address to listen on.', listen, undefined, true),
  tls: f('TLS termination.', object({
    certs: f('Certificate files; SNI picks by their names, the first is the default (after the ACME certificate, when acme is set). '
      + 'Files are re-read on SIGHUP and when they change; a broken new file keeps the old certificate.',
      array(object({ cert: f('PEM certificate (chain: leaf first).', str({ nonEmpty: true }), undefined, true), key: f('PEM key.', str({ nonEmpty: true }), undefined, true) })),
      []),
    acme: f('Obtain and renew a certificate from an ACME CA (RFC 8555), e.g. Let\'s Encrypt; HTTP-01 is answered by every plain reverse listener (port 80).', acmeShape),
    min_version: f('Oldest TLS version accepted.', str({ oneOf: ['TLSv1.2', 'TLSv1.3'] }), 'TLSv1.2'),
    hsts: f('Strict-Transport-Security value; empty = none.', str(), 'max-age=31536000'),
    client_ca: f('PEM file of the CAs client certificates must chain to (mTLS); empty = no client certificates asked for.', str(), ''),
    client_cert: f('With client_ca: require (no valid client certificate, no handshake) or optional (none is fine; an invalid one gets 403).',
      str({ oneOf: ['optional', 'require'] }), 'require'),
  }, (t) => ((t.certs as unknown[] | undefined)?.length || t.acme ? [] : ['needs certs or acme']))),
  redirect_https: f('Plain listener only: answer every request with 308 to the same URL on https (ACME HTTP-01 requests excepted).', bool, false),
  routes: f('First match wins.', array(routeShape), undefined, true),
  purge_acl: f('Client CIDRs allowed to send PURGE.', array(cidr), ['127.0.0.0/8', '::1/128']),
  paths: f('Path normalisation before routing (RFC 3986 §6.2.2; dot segments always resolved).', object({
    merge_slashes: f('Merge repeated slashes (`//a` is `/a`).', bool, true),
    escaped_slashes: f('What to do with %2F and %5C in a path: keep them as sent, reject the request (400), or decode them to `/`.', str({ oneOf: ['keep', 'reject', 'decode'] }), 'keep'),
  }), {}),
  strip_request_headers: stripRequestHeaders,
  trace_context: f('W3C Trace Context: pass traceparent (with this hop as parent) and tracestate upstream, start a trace '
    + 'when the request has none (its id is the request id when that is a UUID), and log trace_id in the access line.', bool, true),
  limits: f('Overrides of the top-level limits.', limitsOverride, {}),
  http2: f('HTTP/2 to clients: negotiated by ALPN next to HTTP/1.1 on a listener with `tls`; `false` turns it off. The header list is bounded by limits.max_header_size and limits.max_headers, idle connections and streams by limits.idle_timeout.',
    either('false, true or an object', bool, http2Shape), {}),
});

export const tcpShape = object({
  listen: f('Address to listen on.', listen, undefined, true),
  pool: f('Pool whose upstreams receive the connections.', str({ nonEmpty: true }), undefined, true),
  idle_timeout: f('Idle time after which a connection is closed.', duration, '1h'),
  max_connections: f('Client connections accepted at once; more are closed.', int(1), 10000),
  max_connections_per_ip: f('Client connections one address may hold at once; more are closed at once. 0 = no limit. Default: limits.max_connections_per_ip.', int(0)),
  per_ip_exempt: f('Client CIDRs max_connections_per_ip does not apply to. Default: limits.per_ip_exempt.', array(cidr)),
});

const statusSpec = either('a status code or a range "200-399"', int(100, 599), str({ nonEmpty: true }));

export const poolShape = object({
  balance: f('Balancing policy.', str({ oneOf: BALANCER_NAMES }), 'round_robin'),
  hash_key: f('consistent_hash key: ip | header:NAME | cookie:NAME | path.', str({ nonEmpty: true }), 'ip'),
  tls: f('How https:// upstreams are verified and what this proxy shows them.', object({
    ca: f('Extra CA certificates (PEM file) trusted besides the system roots; empty = system roots only.', str(), ''),
    servername: f('SNI name sent and checked in the upstream certificate; default: the upstream URL\'s host.', str(), ''),
    cert: f('Client certificate (PEM) presented to upstreams that ask for one.', str(), ''),
    key: f('Key of tls.cert.', str(), ''),
    insecure_skip_verify: f('Accept any upstream certificate (logged as a warning at every start). Never in production.', bool, false),
  }, (t) => (!t.cert !== !t.key ? ['cert and key go together'] : [])), {}),
  upstreams: f('Upstream servers.', array(object({
    url: f('http://host:port of the upstream (tcp pools: tcp://host:port also accepted).', url('http:', 'https:', 'tcp:'), undefined, true),
    weight: f('Relative weight.', int(1, 1000), 1),
  })), undefined, true),
  health: f('Active health checks; omit to disable.', object({
    path: f('Path to GET; empty = TCP connect check.', str(), ''),
    interval: f('Time between checks (±10% jitter).', duration, '5s'),
    timeout: f('Time a check may take.', duration, '1s'),
    fall: f('Failures in a row that mark an upstream down.', int(1), 2),
    rise: f('Successes in a row that mark it up again.', int(1), 2),
    expect_status: f('Healthy statuses.', array(statusSpec), [200]),
    expect_body: f('Substring the body must contain; empty = any.', str(), ''),
    host: f('Host header of checks; default: the upstream address.', str(), ''),
  })),
  passive: f('Passive ejection on failures.', object({
    max_failures: f('Failures within window that eject.', int(1), 3),
    window: f('Window failures are counted in.', duration, '10s'),
    eject: f('First ejection time; doubles on repeat.', duration, '30s'),
    on_5xx: f('Count 5xx responses as failures.', bool, false),
  })),
  sticky: f('Session persistence.', object({
    mode: f('cookie or ip.', str({ oneOf: ['cookie', 'ip'] }), 'cookie'),
    cookie: f('Cookie name.', str({ nonEmpty: true }), 'GH_SERVER_ID'),
    secure: f('Secure attribute.', bool, true),
    http_only: f('HttpOnly attribute.', bool, true),
    same_site: f('SameSite attribute.', str({ oneOf: ['Strict', 'Lax', 'None'] }), 'Lax'),
    secret: f('HMAC key of cookie values; empty = derived from node_id and the pool name (stable across restarts; '
      + 'nodes with different node_id, or anyone who wants values clients cannot compute, set one).', str(), ''),
  })),
  retries: f('Retries of idempotent requests on another upstream.', int(0, 10), 2),
  connect_timeout: f('Time to connect to an upstream; over it the request is retried on another upstream (`retries`), else answered 504 (connection_timeout).', duration, '2s'),
  response_timeout: f('Time to wait for the response head, and between body chunks (504 after).', duration, '30s'),
  keepalive: f('Connections per upstream, busy at once and kept open (requests beyond it wait for one, see queue_timeout).', int(1), 64),
  queue_timeout: f('Longest wait for a free upstream connection; over it: 503 with Retry-After.', duration, '10s'),
  max_queue: f('Requests that may wait for a connection per upstream; more: 503 with Retry-After at once.', int(0), 256),
  slow_start: f('Ramp a newly healthy upstream\'s weight over this time; 0 = off.', duration, '0s'),
});

/**
 * The list and map sections, validated by shape.ts rather than convict (convict has no element schemas).
 * From the environment they are set whole, as JSON: GATEHOUSE_REVERSE='[...]', GATEHOUSE_POOLS='{...}'.
 */
export const listSections = {
  forward: f('Forward (outbound) proxy listeners.', array(forwardShape), []),
  reverse: f('Reverse proxy listeners.', array(reverseShape), []),
  tcp: f('Layer-4 listeners balancing raw TCP over a pool.', array(tcpShape), []),
  pools: f('Upstream pools by name.', map(poolShape), {}),
} as const;
