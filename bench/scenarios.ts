/** What the benchmark runs: baselines first, then Gatehouse configurations. Add rows here. */
import type autocannon from 'autocannon';
import { writeFileSync } from 'node:fs';
import { createCa, issueLeaf } from '../src/tls/dev-certs.js';

/** A development certificate for 127.0.0.1 in `dir`: `tls.certs` lines of a reverse listener. */
export function benchCert(dir: string): string {
  const leaf = issueLeaf(['127.0.0.1', 'localhost'], createCa({ commonName: 'Gatehouse bench CA' }), { days: 2 });
  writeFileSync(`${dir}/bench-tls.pem`, leaf.certPem);
  writeFileSync(`${dir}/bench-tls.key`, leaf.keyPem);
  return `    tls: { certs: [{ cert: "${dir}/bench-tls.pem", key: "${dir}/bench-tls.key" }], hsts: "" }\n`;
}

export interface Scenario {
  name: string;
  kind: 'undici' | 'hpm' | 'gatehouse';
  /**
   * Gatehouse config (YAML) for a listener on `port` in front of `origin`; `dir` is a scratch directory;
   * `origin2` is a second origin serving the same bodies, for rows that balance over two upstreams.
   */
  config?: (port: number, origin: string, dir: string, origin2: string, redis: string) => string;
  /** The runner starts a redis-server for this row (its URL is `redis`); skipped when redis-server is missing. */
  needsRedis?: boolean;
  /** `https` for rows whose listener terminates TLS (autocannon does not verify the certificate). Default http. */
  scheme?: 'http' | 'https';
  path?: string;
  bodies?: string[];
  autocannon?: (port: number) => Partial<autocannon.Options>;
  /**
   * Drive this row with h2load over TLS instead of autocannon: `h1` forces HTTP/1.1 (ALPN http/1.1),
   * `h2` negotiates HTTP/2; the same client for both, so the two rows compare the protocols only.
   */
  h2load?: 'h1' | 'h2';
  /** The checkout whose build runs this row (BENCH_BASELINE rows); this one by default. */
  root?: string;
}

/** The config every Gatehouse row starts from: logging (to a file), metrics, routing and balancing on. */
export const reverseConfig = (port: number, origin: string, dir: string, extra: { route?: string; pool?: string; top?: string } = {}) => `
node_id: bench
admin: { listen: "" }
log: { level: info, format: json, file: ${dir}/access-${port}.log }
reverse:
  - listen: 127.0.0.1:${port}
    routes:
      - name: health
        match: { path_prefix: /healthz }
        respond: { status: 200, body: ok }
      - name: app
        match: { path_prefix: / }
        pool: app
${extra.route ?? ''}
pools:
  app:
    upstreams: [{ url: "${origin}" }]
${extra.pool ?? ''}
${extra.top ?? ''}
`;

export const scenarios: Scenario[] = [
  { name: 'undici-pipe', kind: 'undici' },
  { name: 'http-proxy-middleware', kind: 'hpm' },
  { name: 'gatehouse', kind: 'gatehouse', config: (port, origin, dir) => reverseConfig(port, origin, dir) },
];
/** The same with the access log off (log.level: silent), to show what logging costs. */
scenarios.push({ name: 'gatehouse-silent', kind: 'gatehouse', bodies: ['1k'], config: (port, origin, dir) => reverseConfig(port, origin, dir).replace('level: info', 'level: silent') });

/** A plugin file in the scratch dir, listed on the app route; `plugins.dir` points there. */
const withPlugin = (file: string, code: string) => (port: number, origin: string, dir: string) => {
  writeFileSync(`${dir}/${file}`, code);
  return reverseConfig(port, origin, dir, { route: `        plugins: [${file}]`, top: `plugins: { dir: "${dir}", watch: false }` });
};
scenarios.push(
  // one pass-through onRequest call per request
  { name: 'gatehouse+filter-plugin', kind: 'gatehouse', bodies: ['1k'], config: withPlugin('pass.js', 'export function onRequest(req) {}\n') },
  // one route call per request, answering the route's own pool (validated against the pools)
  { name: 'gatehouse+route-plugin', kind: 'gatehouse', bodies: ['1k'], config: withPlugin('same-pool.js', "export function route(req) { return { pool: 'app' }; }\n") },
);
// The decision trace recorded for every request (trace.keep) but returned to nobody: compare with `gatehouse`, where it is off.
scenarios.push({ name: 'gatehouse-trace-kept', kind: 'gatehouse', bodies: ['1k'], config: (port, origin, dir) => reverseConfig(port, origin, dir, { top: 'trace: { keep: 1000 }' }) });
// The cache HIT path: the origin answers `public, max-age=600`, so after the warm-up every request is a hit.
scenarios.push({ name: 'gatehouse-cache-hit', kind: 'gatehouse', config: (port, origin, dir) => reverseConfig(port, origin, dir, { route: '        cache: true' }) });

/**
 * Forward proxy, plain HTTP without cache (Squid's comparison point: ~110 µs CPU per request): each
 * request is absolute-form to the origin, through ACL, SSRF guard (an IP literal, exempted) and the
 * per-address keep-alive pool. autocannon takes the absolute-form target as `path`; Host names the origin.
 */
let forwardOrigin = '';
export const forwardConfig = (port: number, origin: string, dir: string, extra = '') => {
  forwardOrigin = origin;
  return `
node_id: bench
admin: { listen: "" }
log: { level: info, format: json, file: ${dir}/access-${port}.log }
forward:
  - listen: 127.0.0.1:${port}
    acl: [{ name: loopback, allow: { src: [127.0.0.0/8] } }]
    allow_destinations: ["${new URL(origin).host}"]
    cache: false
${extra}
`;
};
scenarios.push({
  name: 'gatehouse-forward', kind: 'gatehouse', bodies: ['1k'], config: (port, origin, dir) => forwardConfig(port, origin, dir),
  autocannon: () => ({ requests: [{ method: 'GET', path: `${forwardOrigin}/1k`, headers: { host: new URL(forwardOrigin).host } }] }),
});

/** Balancing over two upstreams: round-robin against least_time with sticky cookies (the issue: within 5%). */
const twoUpstreams = (balance: string, sticky: boolean) => (port: number, origin: string, dir: string, origin2: string) =>
  reverseConfig(port, origin, dir, {
    pool: `    balance: ${balance}\n${sticky ? '    sticky: { cookie: GH_SERVER_ID }\n' : ''}`,
  }).replace(`upstreams: [{ url: "${origin}" }]`, `upstreams: [{ url: "${origin}" }, { url: "${origin2}" }]`);
scenarios.push(
  { name: 'gatehouse-2up-round-robin', kind: 'gatehouse', bodies: ['1k'], config: twoUpstreams('round_robin', false) },
  { name: 'gatehouse-2up-least-time+sticky', kind: 'gatehouse', bodies: ['1k'], config: twoUpstreams('least_time', true) },
);
// A per-IP rate limit that never refuses: per process, then fleet-wide in a local redis-server (one EVALSHA per request).
const rateLimit = (shared: string) => (port: number, origin: string, dir: string, _o2: string, redis: string) =>
  reverseConfig(port, origin, dir, { top: `limits: { rate: { per_ip: 1000000000 } }\n${shared.replace('REDIS', redis)}` });
scenarios.push(
  { name: 'gatehouse+rate-limit', kind: 'gatehouse', bodies: ['1k'], config: rateLimit('') },
  { name: 'gatehouse+rate-limit-redis', kind: 'gatehouse', bodies: ['1k'], needsRedis: true, config: rateLimit('shared: { redis: "REDIS", timeout: 1s }') },
);

/**
 * TLS termination, HTTP/1.1 keep-alive: the same pass-through as `gatehouse` behind a TLS listener, so the
 * difference between the two rows is what TLS costs per request (record encryption; handshakes are rare
 * on kept-alive connections; see the handshake figures below the table).
 */
scenarios.push({
  name: 'gatehouse-tls', kind: 'gatehouse', bodies: ['1k'], scheme: 'https',
  config: (port, origin, dir) => reverseConfig(port, origin, dir).replace(`  - listen: 127.0.0.1:${port}\n`, `  - listen: 127.0.0.1:${port}\n${benchCert(dir)}`),
});

/**
 * TLS HTTP/1.1 against TLS HTTP/2 on one listener, both driven by h2load (`--h1` for the first), so the
 * client is the same and only the protocol differs.
 */
const tlsConfig = (port: number, origin: string, dir: string) =>
  reverseConfig(port, origin, dir).replace(`  - listen: 127.0.0.1:${port}\n`, `  - listen: 127.0.0.1:${port}\n${benchCert(dir)}`);
scenarios.push(
  { name: 'gatehouse-tls-http1.1', kind: 'gatehouse', bodies: ['1k'], h2load: 'h1', config: tlsConfig },
  { name: 'gatehouse-tls-h2', kind: 'gatehouse', bodies: ['1k'], h2load: 'h2', config: tlsConfig },
);
