/** The admin API: health, metrics, status, live pool changes and reload, on its own (loopback) listener. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { renderStatusPage } from './status-page.js';
import { listenOn } from '../core/listen.js';
import type { AdminReply, AdminTarget } from './admin-target.js';
import { AdminGuard } from './admin-guard.js';

type Handler = (url: URL, body: unknown) => Promise<AdminReply> | AdminReply;

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
  readonly #guard: AdminGuard;

  /** `target`: what the calls act on — the local Gateway, or (cluster primary) every worker. */
  constructor(private readonly config: { listen: string; token: string }, private readonly target: AdminTarget) {
    this.#guard = new AdminGuard(config.listen);
    this.server = createServer((req, res) => void this.#handle(req, res));
    const pool = (url: URL) => decodeURIComponent(url.pathname.split('/')[2] ?? '');
    this.#on('GET', '/healthz', false, () => [200, { ok: true }]);
    this.#on('GET', '/status', false, async () => [200, await target.status()]);
    this.#on('GET', '/trace/*', false, (url) => target.trace(decodeURIComponent(url.pathname.slice('/trace/'.length))));
    this.#on('POST', '/reload', true, () => target.reload());
    // changes nothing, but reads a body and tells how the policy works: guarded like a change
    this.#on('POST', '/simulate', true, (_url, body) => target.simulate(body));
    this.#on('POST', '/cache/purge', true, (_url, body) => target.purge(body));
    this.#on('POST', '/pools/*/upstreams', true, (url, body) => target.addUpstream(pool(url), body));
    this.#on('DELETE', '/pools/*/upstreams', true, (url) => target.drainUpstream(pool(url), url.searchParams.get('url')));
    this.#on('PATCH', '/pools/*/upstreams', true, (url, body) => target.patchUpstream(pool(url), url.searchParams.get('url'), body));
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
    const path = url.pathname.replace(/^\/pools\/[^/]+\/upstreams$/, '/pools/*/upstreams').replace(/^\/trace\/[^/]+$/, '/trace/*');
    try {
      if (!this.#guard.hostAllowed(req)) {
        return this.#json(res, 421, { error: 'Host must be the admin address or a loopback name (DNS rebinding guard)' });
      }
      if (req.method === 'GET' && url.pathname === '/') {
        const nonce = randomBytes(16).toString('base64');
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY',
          'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; frame-ancestors 'none'`,
        }).end(renderStatusPage((await this.target.status()) as Record<string, unknown>, nonce));
        return;
      }
      if (req.method === 'GET' && url.pathname === '/metrics') {
        const { contentType, text } = await this.target.metrics();
        res.writeHead(200, { 'content-type': contentType }).end(text);
        return;
      }
      const route = this.#routes.get(`${req.method} ${path}`);
      if (!route) return this.#json(res, 404, { error: `no admin endpoint ${req.method} ${url.pathname}` });
      const crossSite = route.mutating ? this.#guard.crossSite(req) : undefined;
      if (crossSite) return this.#json(res, 403, { error: `cross-site requests cannot change anything (${crossSite})` });
      if (route.mutating && !this.#authorised(req)) {
        res.setHeader('www-authenticate', 'Bearer realm="gatehouse-admin"');
        return this.#json(res, 401, { error: 'a valid bearer token is required' });
      }
      const body = route.mutating ? await readJson(req) : undefined;
      const [status, payload] = await route.handler(url, body);
      this.#json(res, status, payload);
    } catch (e) {
      this.#json(res, 400, { error: (e as Error).message });
    }
  }

  #json(res: ServerResponse, status: number, payload: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(`${JSON.stringify(payload, null, 2)}\n`);
  }
}
