import { expect } from 'chai';
import type { CacheStore, Lookup, PurgeTarget, StoreLimits, StoreStats } from '../../../src/cache/cache-store.js';
import { keyUri } from '../../../src/cache/cache-key.js';
import { HttpCache } from '../../../src/cache/http-cache.js';
import { LruStore } from '../../../src/cache/lru-store.js';
import type { StoredResponse } from '../../../src/cache/stored-response.js';
import { stored } from './helpers.js';

const fresh = { 'cache-control': 'max-age=3600' };

/** A second store, as small as the interface allows: one variant per key, no eviction. */
class MapStore implements CacheStore {
  readonly entries = new Map<string, StoredResponse>();
  constructor(readonly limits: StoreLimits) {}
  get maxObjectSize(): number { return this.limits.maxObjectSize; }
  lookup(key: string): Lookup {
    const response = this.entries.get(key);
    return response ? { result: 'hit', response } : { result: 'uri-miss' };
  }
  insert(response: StoredResponse): boolean {
    if (response.size > this.maxObjectSize) return false;
    this.entries.set(response.key, response);
    return true;
  }
  delete(variant: Pick<StoredResponse, 'key'>): boolean { return this.entries.delete(variant.key); }
  purge(target: PurgeTarget): number {
    const hit = [...this.entries.keys()].filter((k) => ('uri' in target ? keyUri(k) === target.uri : keyUri(k).startsWith(target.prefix)));
    hit.forEach((k) => this.entries.delete(k));
    return hit.length;
  }
  size(): StoreStats {
    let bytes = 0;
    for (const r of this.entries.values()) bytes += r.size;
    return { entries: this.entries.size, keys: this.entries.size, bytes, maxSize: this.limits.maxSize };
  }
}

describe('CacheStore: the HTTP cache on any store', () => {
  const opts = { maxSize: 1 << 20, maxObjectSize: 1 << 16, staleGraceMs: 0 };

  it('uses LruStore unless told otherwise', () => {
    expect(new HttpCache(opts).store).to.be.instanceOf(LruStore);
  });

  it('purges and counts through the store it was given; new limits on reload build a new one', () => {
    const built: MapStore[] = [];
    const cache = new HttpCache(opts, undefined, (limits) => { const s = new MapStore(limits); built.push(s); return s; });
    const a = stored(fresh, { url: 'http://h/a' });
    expect(cache.store.insert(a)).to.equal(true);
    expect(cache.store.insert(stored(fresh, { url: 'http://h/img/1' }))).to.equal(true);
    expect(cache.store.lookup(a.key, {}).result).to.equal('hit');
    expect(cache.stats()).to.deep.include({ entries: 2, inflight: 0 });
    expect(cache.purgeUrl('HTTP://H:80/a')).to.equal(1);
    expect(cache.purgePrefix('http://h/img/')).to.equal(1);
    expect(built[0]!.entries.size).to.equal(0);
    cache.configure(opts);
    expect(built).to.have.length(1);
    cache.configure({ ...opts, maxSize: 1 << 21 });
    expect(built).to.have.length(2);
    expect(cache.store).to.equal(built[1]);
    expect(built[1]!.limits).to.deep.equal({ maxSize: 1 << 21, maxObjectSize: 1 << 16 });
  });
});
