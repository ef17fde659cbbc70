/**
 * What the HTTP cache asks of its storage. The RFC 9111 rules (what may be stored, for how long, which
 * stored response a request may reuse) stay with the callers; a store keeps entries, selects a variant
 * by Vary, and forgets entries. `LruStore` (lru-store.ts) is the in-memory one; see
 * docs/design/cache.md for adding another.
 */
import type { HeaderMap } from './headers.js';
import type { StoredResponse } from './stored-response.js';

/** Bounds a store is built with (`cache.max_size`, `cache.max_object_size`). */
export interface StoreLimits {
  /** Bytes the store may hold. */
  readonly maxSize: number;
  /** Largest single entry in bytes; capped at maxSize. */
  readonly maxObjectSize: number;
}

export type Lookup =
  | { readonly result: 'hit'; readonly response: StoredResponse }
  /** No response stored for this URI. */
  | { readonly result: 'uri-miss' }
  /** Responses stored for this URI, but none selected by this request's selecting fields. */
  | { readonly result: 'vary-miss' };

/** What to purge: every variant of one normalised URI, or of every URI starting with a prefix. */
export type PurgeTarget = { readonly uri: string } | { readonly prefix: string };

export interface StoreStats {
  /** Stored responses (variants). */
  readonly entries: number;
  /** Distinct primary keys. */
  readonly keys: number;
  /** Bytes charged. */
  readonly bytes: number;
  readonly maxSize: number;
}

/**
 * Synchronous on purpose: a hit is answered without waiting on anything. A store behind a disk or a
 * network keeps what lookup needs in memory and does its I/O in the background.
 */
export interface CacheStore {
  /** Largest entry (`StoredResponse.size`) insert accepts. */
  readonly maxObjectSize: number;
  /**
   * The variant stored under a primary key that a request's headers select (RFC 9111 §4.1; GET and HEAD
   * share keys). Marks it recently used, unless `peek` (the simulator changes nothing).
   */
  lookup(key: string, reqHeaders: HeaderMap, opts?: { readonly peek?: boolean }): Lookup;
  /**
   * Stores (or replaces) a variant under `response.key`. A response whose Vary differs from the stored
   * ones replaces them all: the most recent Vary selects (RFC 9111 §4.1). False when not stored (larger
   * than maxObjectSize, or evicted at once).
   */
  insert(response: StoredResponse): boolean;
  /** Removes one variant (invalidated, or replaced by an answer that may not be stored). */
  delete(variant: Pick<StoredResponse, 'key' | 'varyKey'>): boolean;
  /**
   * Removes every variant of a URI (stored as GET) or of every URI starting with a prefix; returns how
   * many. An absolute prefix is normalised like keys (`http://Example.com` covers `http://example.com/…`
   * but not `http://example.com.evil/`); a prefix starting with "/" matches the path and query on any host.
   */
  purge(target: PurgeTarget): number;
  /** What the store holds, for /status and the metrics. */
  size(): StoreStats;
}

/** Builds a store; HttpCache calls it again when the limits change on reload. */
export type StoreFactory = (limits: StoreLimits) => CacheStore;
