/**
 * The in-memory CacheStore, on lru-cache, bounded in bytes. Each stored variant is one LRU item sized
 * by body + headers + overhead; an index maps each primary key to its Vary field names and variants.
 */
import { LRUCache } from 'lru-cache';
import { cacheKey, keyUri, normaliseUri } from './cache-key.js';
import type { CacheStore, Lookup, PurgeTarget, StoreLimits, StoreStats } from './cache-store.js';
import type { HeaderMap } from './headers.js';
import type { StoredResponse } from './stored-response.js';
import { varyKey } from './vary.js';

interface KeyIndex {
  /** Selecting field names of the most recent response stored under the key (RFC 9111 §4.1). */
  vary: readonly string[];
  /** Secondary keys of the stored variants. */
  readonly variants: Set<string>;
}

const SEP = '\u0000';

export class LruStore implements CacheStore {
  readonly #lru: LRUCache<string, StoredResponse>;
  readonly #index = new Map<string, KeyIndex>();
  readonly #maxObjectSize: number;
  readonly #maxSize: number;

  constructor(opts: StoreLimits) {
    this.#maxSize = Math.max(1, Math.floor(opts.maxSize));
    this.#maxObjectSize = Math.min(this.#maxSize, opts.maxObjectSize);
    this.#lru = new LRUCache<string, StoredResponse>({
      maxSize: this.#maxSize,
      sizeCalculation: (v) => Math.max(1, v.size),
      // 'set' replaces a variant in place: the index entry stays.
      dispose: (_v, k, reason) => { if (reason !== 'set') this.#unindex(k); },
    });
  }

  /** Largest entry (`size`) accepted. */
  get maxObjectSize(): number { return this.#maxObjectSize; }

  lookup(key: string, reqHeaders: HeaderMap, opts?: { readonly peek?: boolean }): Lookup {
    const idx = this.#index.get(key);
    if (!idx) return { result: 'uri-miss' };
    const lruKey = key + SEP + varyKey(idx.vary, reqHeaders);
    const response = opts?.peek ? this.#lru.peek(lruKey) : this.#lru.get(lruKey);
    return response ? { result: 'hit', response } : { result: 'vary-miss' };
  }

  insert(response: StoredResponse): boolean {
    if (response.size > this.#maxObjectSize) return false;
    const key = response.key;
    const existing = this.#index.get(key);
    if (existing && existing.vary.join() !== response.vary.join()) this.#deleteKey(key);
    this.#lru.set(key + SEP + response.varyKey, response);
    if (!this.#lru.has(key + SEP + response.varyKey)) return false;
    let idx = this.#index.get(key);
    if (!idx) { idx = { vary: response.vary, variants: new Set() }; this.#index.set(key, idx); }
    idx.variants.add(response.varyKey);
    return true;
  }

  delete(variant: Pick<StoredResponse, 'key' | 'varyKey'>): boolean {
    return this.#lru.delete(variant.key + SEP + variant.varyKey);
  }

  purge(target: PurgeTarget): number {
    if ('uri' in target) {
      const key = cacheKey('GET', target.uri);
      return key === undefined ? 0 : this.#deleteKey(key);
    }
    const pathOnly = target.prefix.startsWith('/');
    const p = pathOnly ? target.prefix : normaliseUri(target.prefix) ?? target.prefix;
    let n = 0;
    for (const key of [...this.#index.keys()]) {
      const uri = keyUri(key);
      const subject = pathOnly ? uri.slice(uri.indexOf('/', uri.indexOf('//') + 2)) : uri;
      if (subject.startsWith(p)) n += this.#deleteKey(key);
    }
    return n;
  }

  size(): StoreStats {
    return { entries: this.#lru.size, keys: this.#index.size, bytes: this.#lru.calculatedSize, maxSize: this.#maxSize };
  }

  /** Removes every variant stored under a primary key; returns how many. */
  #deleteKey(key: string): number {
    const idx = this.#index.get(key);
    if (!idx) return 0;
    let n = 0;
    for (const sk of [...idx.variants]) if (this.#lru.delete(key + SEP + sk)) n++;
    this.#index.delete(key);
    return n;
  }

  #unindex(lruKey: string): void {
    const i = lruKey.indexOf(SEP);
    const key = lruKey.slice(0, i);
    const idx = this.#index.get(key);
    if (!idx) return;
    idx.variants.delete(lruKey.slice(i + 1));
    if (idx.variants.size === 0) this.#index.delete(key);
  }
}
