/**
 * Keep-alive connection pools of a forward listener, one undici Pool per destination *address*
 * (scheme, resolved IP, port, TLS server name): the SSRF guard resolved and checked that address,
 * and the pool dials exactly it, so a DNS answer that changes later (rebinding) never reaches a
 * refused range. Least recently used pools beyond `max`, and pools idle for `idleMs`, are closed.
 */
import { Pool } from 'undici';

export interface PoolSpec {
  readonly scheme: 'http' | 'https';
  /** IP address to dial (or the parent proxy's host). */
  readonly address: string;
  readonly port: number;
  /** TLS server name (SNI and certificate check) for https destinations named by DNS. */
  readonly servername?: string;
  /** CA list for the destination's certificate; undefined = node's default roots. */
  readonly ca?: string[];
  readonly connectTimeoutMs: number;
}

interface Entry { readonly pool: Pool; used: number }

export class DestinationPools {
  readonly #pools = new Map<string, Entry>();
  readonly #max: number;
  readonly #idleMs: number;
  readonly #sweep: NodeJS.Timeout;

  constructor(max = 512, idleMs = 60_000) {
    this.#max = max;
    this.#idleMs = idleMs;
    this.#sweep = setInterval(() => this.#closeIdle(), Math.max(1000, idleMs / 2));
    this.#sweep.unref();
  }

  get size(): number { return this.#pools.size; }

  /** The pool for a destination, and its undici origin. */
  get(spec: PoolSpec): { pool: Pool; origin: string } {
    const host = spec.address.includes(':') ? `[${spec.address}]` : spec.address;
    const origin = `${spec.scheme}://${host}:${spec.port}`;
    const key = spec.servername === undefined ? origin : `${origin} ${spec.servername}`;
    let entry = this.#pools.get(key);
    if (entry) {
      // re-insert: Map order is the LRU order
      this.#pools.delete(key);
    } else {
      const pool = new Pool(origin, {
        connections: 256,
        keepAliveTimeout: 4_000,
        connect: {
          timeout: spec.connectTimeoutMs,
          ...(spec.scheme === 'https' ? { servername: spec.servername, ca: spec.ca, rejectUnauthorized: true } : {}),
        },
      });
      entry = { pool, used: 0 };
      if (this.#pools.size >= this.#max) this.#evict(this.#pools.keys().next().value!);
    }
    entry.used = Date.now();
    this.#pools.set(key, entry);
    return { pool: entry.pool, origin };
  }

  #evict(key: string): void {
    const entry = this.#pools.get(key);
    this.#pools.delete(key);
    // close() lets in-flight requests finish
    void entry?.pool.close().catch(() => undefined);
  }

  #closeIdle(): void {
    const old = Date.now() - this.#idleMs;
    for (const [key, entry] of this.#pools) if (entry.used < old) this.#evict(key);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    const all = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(all.map((e) => e.pool.close().catch(() => undefined)));
  }
}
