/**
 * In-memory response store on lru-cache, bounded in bytes. Each stored variant is one LRU item sized
 * by body + headers + overhead; an index maps each primary key to its Vary field names and variants.
 */
import { LRUCache } from 'lru-cache';
import { cacheKey, keyUri, normaliseUri } from './cache-key.js';
import type { HeaderMap } from './headers.js';
import type { StoredResponse } from './stored-response.js';
import { varyKey } from './vary.js';

export interface LruStoreOptions {
  /** Bytes the store may hold (`cache.max_size`). */
  readonly maxSize: number;
  /** Largest single entry in bytes (`cache.max_object_size`); capped at maxSize. */
  readonly maxObjectSize: number;
}

export type Lookup =
  | { readonly result: 'hit'; readonly response: StoredResponse }
  /** No response stored for this URI. */
  | { readonly result: 'uri-miss' }
  /** Responses stored for this URI, but none selected by this request's selecting fields. */
  | { readonly result: 'vary-miss' };

export interface StoreStats {
  /** Stored responses (variants). */
  readonly entries: number;
  /** Distinct primary keys. */
  readonly keys: number;
  /** Bytes charged. */
  readonly bytes: number;
  readonly maxSize: number;
}

interface KeyIndex {
  /** Selecting field names of the most recent response stored under the key (RFC 9111 §4.1). */
  vary: readonly string[];
  /** Secondary keys of the stored variants. */
  readonly variants: Set<string>;
}

const SEP = '\u0000';

export class LruStore {
  readonly #lru: LRUCache<string, StoredResponse>;
  readonly #index = new Map<string, KeyIndex>();
  readonly #maxObjectSize: number;
  readonly #maxSize: number;

  constructor(opts: LruStoreOptions) {
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

  /** Selects the stored variant for a request (GET/HEAD share keys); marks it recently used. */
  lookup(key: string, reqHeaders: HeaderMap): Lookup {
    const idx = this.#index.get(key);
    if (!idx) return { result: 'uri-miss' };
    const response = this.#lru.get(key + SEP + varyKey(idx.vary, reqHeaders));
    return response ? { result: 'hit', response } : { result: 'vary-miss' };
  }

  /** As lookup, without marking anything used (the simulator changes nothing). */
  peekLookup(key: string, reqHeaders: HeaderMap): Lookup {
    const idx = this.#index.get(key);
    if (!idx) return { result: 'uri-miss' };
    const response = this.#lru.peek(key + SEP + varyKey(idx.vary, reqHeaders));
    return response ? { result: 'hit', response } : { result: 'vary-miss' };
  }

  /** Every stored variant of a key (e.g. to freshen all that share a strong validator). */
  variants(key: string): StoredResponse[] {
    const idx = this.#index.get(key);
    if (!idx) return [];
    const out: StoredResponse[] = [];
    for (const sk of idx.variants) {
      const v = this.#lru.peek(key + SEP + sk);
      if (v) out.push(v);
    }
    return out;
  }

  /**
   * Stores (or replaces) a variant under `response.key`. A response whose Vary differs from the
   * stored ones replaces them all: the most recent Vary selects (RFC 9111 §4.1). Returns false when
   * the entry is larger than maxObjectSize.
   */
  set(response: StoredResponse): boolean {
    if (response.size > this.#maxObjectSize) return false;
    const key = response.key;
    const existing = this.#index.get(key);
    if (existing && existing.vary.join() !== response.vary.join()) this.deleteKey(key);
    this.#lru.set(key + SEP + response.varyKey, response);
    if (!this.#lru.has(key + SEP + response.varyKey)) return false;
    let idx = this.#index.get(key);
    if (!idx) { idx = { vary: response.vary, variants: new Set() }; this.#index.set(key, idx); }
    idx.variants.add(response.varyKey);
    return true;
  }

  /** Removes one variant. */
  deleteVariant(response: Pick<StoredResponse, 'key' | 'varyKey'>): boolean {
    return this.#lru.delete(response.key + SEP + response.varyKey);
  }

  /** Removes every variant stored under a primary key; returns how many. */
  deleteKey(key: string): number {
    const idx = this.#index.get(key);
    if (!idx) return 0;
    let n = 0;
    for (const sk of [...idx.variants]) if (this.#lru.delete(key + SEP + sk)) n++;
    this.#index.delete(key);
    return n;
  }

  /** Removes every variant stored for a URI (any method class that is stored: GET); returns how many. */
  delete(uri: string): number {
    const key = cacheKey('GET', uri);
    return key === undefined ? 0 : this.deleteKey(key);
  }

  /**
   * Removes every variant whose URI starts with `prefix`; returns how many. An absolute prefix is
   * normalised like keys (`http://Example.com` covers `http://example.com/...` but not
   * `http://example.com.evil/`); a prefix starting with "/" matches the path and query on any host.
   */
  purgePrefix(prefix: string): number {
    const pathOnly = prefix.startsWith('/');
    const p = pathOnly ? prefix : normaliseUri(prefix) ?? prefix;
    let n = 0;
    for (const key of [...this.#index.keys()]) {
      const uri = keyUri(key);
      const subject = pathOnly ? uri.slice(uri.indexOf('/', uri.indexOf('//') + 2)) : uri;
      if (subject.startsWith(p)) n += this.deleteKey(key);
    }
    return n;
  }

  clear(): void {
    this.#lru.clear();
    this.#index.clear();
  }

  stats(): StoreStats {
    return { entries: this.#lru.size, keys: this.#index.size, bytes: this.#lru.calculatedSize, maxSize: this.#maxSize };
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
