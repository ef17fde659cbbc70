/**
 * The one shared HTTP cache of a process: the byte-bounded store, the in-flight request table for
 * coalescing, the background-refresh set and the storage rules per mode. Every listener's cache
 * stage uses the same instance (gateway.ts creates it), so a purge reaches every entry.
 */
import { DEFAULT_TARGETS } from './cache-control.js';
import { normaliseUri } from './cache-key.js';
import { Coalescer } from './coalescer.js';
import type { CacheStore, StoreFactory, StoreStats } from './cache-store.js';
import { LruStore } from './lru-store.js';
import { DEFAULT_STORAGE, type StorageOptions } from './storability.js';

export interface HttpCacheOptions {
  /** Bytes the store may hold (`cache.max_size`). */
  readonly maxSize: number;
  /** Largest response stored, bytes (`cache.max_object_size`). */
  readonly maxObjectSize: number;
  /** Grace past expiry for serving stale when the upstream fails, ms (`cache.stale_grace`). */
  readonly staleGraceMs: number;
}

export type CacheMode = 'forward' | 'reverse';

/** Lookup outcomes counted in `gatehouse_cache_lookups_total{result}` (the RFC 9211 vocabulary). */
export type LookupResult = 'hit' | 'stale' | 'uri-miss' | 'vary-miss' | 'request' | 'method' | 'bypass' | 'collapsed';

export class HttpCache {
  readonly coalescer = new Coalescer();
  /** Variants being refreshed in the background (stale-while-revalidate): one refresh each at a time. */
  readonly refreshing = new Set<string>();
  #store: CacheStore;
  #opts: HttpCacheOptions;
  #storage!: Record<CacheMode, StorageOptions>;

  /** `newStore`: where entries live (default: in memory, LruStore). */
  constructor(opts: HttpCacheOptions, private readonly onLookup?: (result: LookupResult) => void,
    private readonly newStore: StoreFactory = (limits) => new LruStore(limits)) {
    this.#opts = opts;
    this.#store = newStore({ maxSize: opts.maxSize, maxObjectSize: opts.maxObjectSize });
    this.#setStorage();
  }

  get store(): CacheStore { return this.#store; }
  get options(): HttpCacheOptions { return this.#opts; }

  /**
   * Storage rules: reverse mode obeys Surrogate-Control too (it is aimed at gateways in front of an
   * origin); a forward proxy only obeys Gatehouse-Cache-Control and CDN-Cache-Control.
   */
  storage(mode: CacheMode): StorageOptions { return this.#storage[mode]; }

  /** Applies reloaded settings; new limits build a new store, without the entries (an LRU cannot be resized in place). */
  configure(opts: HttpCacheOptions): void {
    if (opts.maxSize !== this.#opts.maxSize || opts.maxObjectSize !== this.#opts.maxObjectSize) {
      this.#store = this.newStore({ maxSize: opts.maxSize, maxObjectSize: opts.maxObjectSize });
    }
    this.#opts = opts;
    this.#setStorage();
  }

  countLookup(result: LookupResult): void { this.onLookup?.(result); }

  /** Told about every explicit purge (PURGE, admin API) so other instances can repeat it; not about remote ones. */
  onPurge?: (purge: { url: string } | { prefix: string }) => void;

  /** Removes every variant stored for an absolute URI; returns how many. `remote`: a purge another instance announced. */
  purgeUrl(url: string, remote = false): number {
    const uri = normaliseUri(url);
    if (!remote) this.onPurge?.({ url });
    return uri === undefined ? 0 : this.#store.purge({ uri });
  }

  /** Removes every variant whose URI starts with a prefix (absolute, or a path on any host). */
  purgePrefix(prefix: string, remote = false): number {
    if (!remote) this.onPurge?.({ prefix });
    return this.#store.purge({ prefix });
  }

  stats(): StoreStats & { inflight: number } {
    return { ...this.#store.size(), inflight: this.coalescer.size };
  }

  #setStorage(): void {
    const graceSeconds = this.#opts.staleGraceMs / 1000;
    this.#storage = {
      reverse: Object.freeze({ ...DEFAULT_STORAGE, targets: DEFAULT_TARGETS, graceSeconds }),
      forward: Object.freeze({ ...DEFAULT_STORAGE, targets: DEFAULT_TARGETS.filter((t) => t !== 'surrogate-control'), graceSeconds }),
    };
  }
}
