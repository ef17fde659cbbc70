/**
 * The pure RFC 9111 shared-cache rules, in one import for the pipeline's cache stage. Storage is
 * elsewhere (lru-store.ts), as Envoy splits cacheability rules from the store.
 */
export * from './cache-control.js';
export * from './cache-key.js';
export * from './cache-status.js';
export * from './conditional.js';
export * from './freshness.js';
export * from './headers.js';
export * from './http-date.js';
export * from './storability.js';
export * from './stored-response.js';
export * from './vary.js';
