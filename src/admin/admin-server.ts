/** The admin API: health, metrics, status, live pool changes and reload, on its own (loopback) listener. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { listenOn } from '../core/listen.js';
import type { Gateway } from '../gateway.js';
import { originOf } from '../core/origin.js';

type Handler = (req: IncomingMessage, url: URL, body: unknown) => Promise<[number, unknown]> | [number, unknown];

const MAX_BODY = 64 * 1024;

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => { size += c.length; if (size > MAX_BODY) req.destroy(new Error('body too large')); else chunks.push(c); });
    req.on('end', () => {
      if (size === 0) return resolve(undefined);
      try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch { reject(new Error('body is not valid JSON')); }
    });
    req.on('error', reject);
  });
}

export class AdminServer {
  readonly server: Server;
  readonly #routes = new Map<string, { mutating: boolean; handler: Handler }>();

  constructor(private readonly config: { listen: string; token: string }, private readonly gateway: Gateway) {
    this.server = createServer((req, res) => void this.#handle(req, res));
    this.#on('GET', '/healthz', false, () => [200, { ok: true }]);
    this.#on('GET', '/status', false, () => [200, gateway.status()]);
    this.#on('POST', '/reload', true, async () => {
      if (!gateway.reloadFromSource) return [501, { error: 'reload is not available' }];
      const problems = await gateway.reloadFromSource();
      return problems.length ? [422, { reloaded: false, problems }] : [200, { reloaded: true }];
    });
    this.#on('POST', '/cache/purge', true, (_req, _url, body) => this.#purge(body));
    this.#on('POST', '/pools/*/upstreams', true, (_req, url, body) => this.#addUpstream(url, body));
    this.#on('DELETE', '/pools/*/upstreams', true, (_req, url) => this.#removeUpstream(url));
    this.#on('PATCH', '/pools/*/upstreams', true, (_req, url, body) => this.#patchUpstream(url, body));
  }

  get address() {
    const a = this.server.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  #on(method: string, path: string, mutating: boolean, handler: Handler): void {
    this.#routes.set(`${method} ${path}`, { mutating, handler });
  }

  async start(): Promise<void> {
    await listenOn(this.server, this.config.listen, 'admin');
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  #authorised(req: IncomingMessage): boolean {
    if (!this.config.token) return true;
    const given = Buffer.from(req.headers.authorization ?? '');
    const want = Buffer.from(`Bearer ${this.config.token}`);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname.replace(/^\/pools\/[^/]+\/upstreams$/, '/pools/*/upstreams');
    try {
      if (req.method === 'GET' && url.pathname === '/metrics') {
        const text = await this.gateway.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': this.gateway.metrics.registry.contentType }).end(text);
        return;
      }
      const route = this.#routes.get(`${req.method} ${path}`);
      if (!route) return this.#json(res, 404, { error: `no admin endpoint ${req.method} ${url.pathname}` });
      if (route.mutating && !this.#authorised(req)) {
        res.setHeader('www-authenticate', 'Bearer realm="gatehouse-admin"');
        return this.#json(res, 401, { error: 'a valid bearer token is required' });
      }
      const body = route.mutating ? await readJson(req) : undefined;
      const [status, payload] = await route.handler(req, url, body);
      this.#json(res, status, payload);
    } catch (e) {
      this.#json(res, 400, { error: (e as Error).message });
    }
  }

  #json(res: ServerResponse, status: number, payload: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(payload, null, 2)}\n`);
  }

  #pool(url: URL) {
    const name = decodeURIComponent(url.pathname.split('/')[2] ?? '');
    return { name, pool: this.gateway.pools.get(name) };
  }

  #addUpstream(url: URL, body: unknown): [number, unknown] {
    const { name, pool } = this.#pool(url);
    if (!pool) return [404, { error: `no pool "${name}"` }];
    const { url: target, weight = 1 } = (body ?? {}) as { url?: unknown; weight?: unknown };
    if (typeof target !== 'string' || !/^(https?|tcp):\/\/[^/]/.test(target)) return [400, { error: 'url: must be an http://, https:// or tcp:// URL' }];
    if (!Number.isInteger(weight) || (weight as number) < 1) return [400, { error: 'weight: must be an integer >= 1' }];
    try {
      const u = pool.add(target, weight as number);
      this.gateway.log.info({ pool: name, upstream: u.id, weight }, 'upstream added');
      return [201, { pool: name, url: u.id, weight }];
    } catch (e) {
      return [409, { error: (e as Error).message }];
    }
  }

  /** PATCH /pools/NAME/upstreams?url=URL {weight}: changes the weight in place (until the next reload). */
  #patchUpstream(url: URL, body: unknown): [number, unknown] {
    const { name, pool } = this.#pool(url);
    if (!pool) return [404, { error: `no pool "${name}"` }];
    const target = url.searchParams.get('url');
    if (!target) return [400, { error: 'url: query parameter is required' }];
    let origin: string;
    try { origin = originOf(target); } catch { return [400, { error: 'url: not a URL' }]; }
    const { weight } = (body ?? {}) as { weight?: unknown };
    if (!Number.isInteger(weight) || (weight as number) < 1 || (weight as number) > 1000) return [400, { error: 'weight: must be an integer 1-1000' }];
    const u = pool.find(origin);
    if (!u) return [404, { error: `no upstream ${origin} in pool "${name}"` }];
    const from = u.configuredWeight;
    u.configuredWeight = weight as number;
    this.gateway.log.info({ pool: name, upstream: origin, from, to: weight }, 'upstream weight changed');
    return [200, { pool: name, url: origin, weight }];
  }

  /** POST /cache/purge {url} (every variant of that absolute URL) or {prefix} (absolute, or a path on any host). */
  #purge(body: unknown): [number, unknown] {
    const { url, prefix } = (body ?? {}) as { url?: unknown; prefix?: unknown };
    if ((url === undefined) === (prefix === undefined)) return [400, { error: 'body: give exactly one of url or prefix' }];
    if (url !== undefined) {
      if (typeof url !== 'string' || !/^https?:\/\/[^/]/i.test(url)) return [400, { error: 'url: must be an absolute http:// or https:// URL' }];
      const purged = this.gateway.cache.purgeUrl(url);
      this.gateway.log.info({ url, purged }, 'cache purged');
      return [200, { purged }];
    }
    if (typeof prefix !== 'string' || !/^(https?:\/\/[^/]|\/)/i.test(prefix)) return [400, { error: 'prefix: must be an absolute URL or start with /' }];
    const purged = this.gateway.cache.purgePrefix(prefix);
    this.gateway.log.info({ prefix, purged }, 'cache purged');
    return [200, { purged }];
  }

  async #removeUpstream(url: URL): Promise<[number, unknown]> {
    const { name, pool } = this.#pool(url);
    if (!pool) return [404, { error: `no pool "${name}"` }];
    const target = url.searchParams.get('url');
    if (!target) return [400, { error: 'url: query parameter is required' }];
    let origin: string;
    try { origin = originOf(target); } catch { return [400, { error: 'url: not a URL' }]; }
    this.gateway.log.info({ pool: name, upstream: origin }, 'upstream draining');
    const removed = await pool.drain(origin);
    if (!removed) return [404, { error: `no upstream ${origin} in pool "${name}"` }];
    this.gateway.log.info({ pool: name, upstream: origin }, 'upstream removed');
    return [200, { pool: name, removed: origin }];
  }
}
