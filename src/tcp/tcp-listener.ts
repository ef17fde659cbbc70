/**
 * A layer-4 listener (`tcp:` config): each accepted connection goes to an upstream of its pool, picked by
 * the pool's balancer on the client address, and bytes are piped both ways with backpressure. A refused
 * or timed-out connect is tried on another upstream, up to the pool's `retries`.
 */
import { toProxyError } from '../core/errors.js';
import { peerAddress } from '../core/client-address.js';
import net, { type Socket } from 'node:net';
import { once } from 'node:events';
import type { Logger } from 'pino';
import type { TcpListener as TcpListenerConfig } from '../config/types.js';
import { parseListen } from '../config/shape.js';
import type { UpstreamPool } from '../reverse/upstream-pool.js';
import type { Upstream } from '../reverse/upstream.js';
import { dialUrl, relay } from '../core/tunnel.js';
import { limitConnectionsPerIp, perIpLimit, type PerIpLimit } from '../core/connection-limits.js';

export interface TcpDeps {
  log: Logger;
  pools: () => ReadonlyMap<string, UpstreamPool>;
  /** Told about failed connects (passive health), as the HTTP proxy stage tells about failed requests. */
  onResult?: (pool: UpstreamPool, upstream: Upstream, error: unknown) => void;
}

export class TcpProxyListener {
  readonly name: string;
  readonly server: net.Server;
  readonly #log: Logger;
  readonly #sockets = new Set<Socket>();
  #config: TcpListenerConfig;
  #perIp: PerIpLimit;

  constructor(config: TcpListenerConfig, index: number, private readonly deps: TcpDeps) {
    this.name = `tcp[${index}]`;
    this.#config = config;
    this.#log = deps.log.child({ listener: this.name });
    // half-open: a client that finished sending (FIN) still gets the rest of the upstream's answer
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => void this.#onConnection(s));
    this.server.maxConnections = config.max_connections;
    this.#perIp = perIpLimitOf(config);
    limitConnectionsPerIp(this.server, () => this.#perIp, this.#log);
  }

  get config(): TcpListenerConfig { return this.#config; }
  get connections(): number { return this.#sockets.size; }
  get address(): { host: string; port: number } {
    const a = this.server.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : parseListen(this.#config.listen);
  }

  async start(): Promise<void> {
    const { host, port } = parseListen(this.#config.listen);
    this.server.listen(port, host);
    await Promise.race([
      once(this.server, 'listening'),
      once(this.server, 'error').then(([e]) => { throw new Error(`${this.name}: cannot listen on ${this.#config.listen}: ${(e as NodeJS.ErrnoException).code}`); }),
    ]);
  }

  /** Same address, new settings: new connections use the new pool and idle timeout; open ones continue. */
  reload(config: TcpListenerConfig): void {
    this.#config = config;
    this.server.maxConnections = config.max_connections;
    this.#perIp = perIpLimitOf(config);
  }

  /** Stops accepting; open connections get up to `ms` to finish, then are cut. */
  async stop(ms = 0): Promise<void> {
    if (this.server.listening) this.server.close();
    const deadline = Date.now() + ms;
    while (this.#sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const s of this.#sockets) s.destroy();
  }

  async #onConnection(client: Socket): Promise<void> {
    const startMs = performance.now();
    const peer = peerAddress(client);
    const cfg = this.#config;
    this.#sockets.add(client);
    client.once('close', () => this.#sockets.delete(client));
    client.on('error', () => client.destroy());
    const pool = this.deps.pools().get(cfg.pool);
    const logLine = (fields: Record<string, unknown>) => this.#log.info({
      mode: 'tcp', client: peer, pool: cfg.pool, bytes_in: client.bytesRead, bytes_out: client.bytesWritten,
      ms: Math.round((performance.now() - startMs) * 100) / 100, ...fields,
    }, 'access');
    if (!pool) { client.destroy(); logLine({ error: 'no_pool' }); return; }

    let tried: Set<Upstream> | undefined;
    let upstream: Upstream | undefined;
    let socket: Socket | undefined;
    let lastError: unknown;
    for (let attempt = 0; attempt <= pool.config.retries; attempt++) {
      upstream = pool.pick({ clientIp: peer }, tried);
      if (!upstream) break;
      upstream.inflight++;
      upstream.requests++;
      try {
        socket = await dialUrl(upstream.url, pool.config.connect_timeout);
        break;
      } catch (err) {
        upstream.inflight--;
        upstream.failures++;
        lastError = err;
        this.deps.onResult?.(pool, upstream, err);
        (tried ??= new Set()).add(upstream);
        this.#log.info({ upstream: upstream.id, code: (err as NodeJS.ErrnoException).code, attempt: attempt + 1 }, 'tcp connect failed');
        upstream = undefined;
      }
    }
    if (!socket || !upstream) {
      client.destroy();
      // what went wrong with the last upstream tried (refused, timed out); no_healthy_upstream when none was available
      logLine({ error: lastError === undefined ? 'no_healthy_upstream' : toProxyError(lastError).proxyStatus, tried: tried?.size ?? 0 });
      return;
    }
    const up: Upstream = upstream;
    const retries = tried?.size;
    // both directions count as activity on each socket; a client gone while connecting closes the upstream at once
    void relay(client, socket, cfg.idle_timeout).then(() => {
      up.inflight--;
      logLine({ upstream: up.id, retries });
    });
    client.resume();
  }
}

function perIpLimitOf(config: TcpListenerConfig): PerIpLimit {
  return perIpLimit(config.max_connections_per_ip ?? 0, config.per_ip_exempt ?? []);
}
