import { expect } from 'chai';
import { LruStore } from '../../../src/cache/lru-store.js';
import { stored } from './helpers.js';

const fresh = { 'cache-control': 'max-age=3600' };

describe('LRU store (bounded in bytes)', () => {
  it('lookup: uri-miss, hit, vary-miss (RFC 9211 fwd reasons)', () => {
    const store = new LruStore({ maxSize: 1 << 20, maxObjectSize: 1 << 20 });
    const r = stored({ ...fresh, vary: 'Foo' }, { reqHeaders: { foo: '1' } });
    expect(store.lookup(r.key, { foo: '1' }).result).to.equal('uri-miss');
    expect(store.insert(r)).to.equal(true);
    const hit = store.lookup(r.key, { foo: '1', other: 'x' });
    expect(hit.result === 'hit' && hit.response).to.equal(r);
    expect(store.lookup(r.key, { foo: '2' }).result).to.equal('vary-miss');
    expect(store.lookup(r.key, {}).result).to.equal('vary-miss');
  });

  it('§4.1: holds several variants per URI; storing one does not evict another', () => {
    const store = new LruStore({ maxSize: 1 << 20, maxObjectSize: 1 << 20 });
    const a = stored({ ...fresh, vary: 'Foo' }, { reqHeaders: { foo: '1' }, body: 'one' });
    const b = stored({ ...fresh, vary: 'Foo' }, { reqHeaders: { foo: '2' }, body: 'two' });
    store.insert(a); store.insert(b);
    const la = store.lookup(a.key, { foo: '1' });
    expect(la.result === 'hit' && la.response.body.toString()).to.equal('one');
    const lb = store.lookup(b.key, { foo: '2' });
    expect(lb.result === 'hit' && lb.response.body.toString()).to.equal('two');
    expect(store.size()).to.deep.include({ entries: 2, keys: 1 });
  });

  it('§4.1: a response with a different Vary replaces the variants selected by the old one', () => {
    const store = new LruStore({ maxSize: 1 << 20, maxObjectSize: 1 << 20 });
    store.insert(stored({ ...fresh, vary: 'Foo' }, { reqHeaders: { foo: '1' } }));
    store.insert(stored({ ...fresh, vary: 'Foo' }, { reqHeaders: { foo: '2' } }));
    const c = stored({ ...fresh, vary: 'Bar' }, { reqHeaders: { bar: '1' } });
    store.insert(c);
    expect(store.size().entries).to.equal(1);
    expect(store.lookup(c.key, { bar: '1' }).result).to.equal('hit');
  });

  it('a HEAD finds the stored GET (same key)', () => {
    const store = new LruStore({ maxSize: 1 << 20, maxObjectSize: 1 << 20 });
    const r = stored(fresh);
    store.insert(r);
    expect(store.lookup('GET http://h/a', {}).result).to.equal('hit');
  });

  it('refuses entries over max_object_size', () => {
    const store = new LruStore({ maxSize: 1 << 20, maxObjectSize: 2000 });
    expect(store.insert(stored(fresh, { body: 'x'.repeat(5000) }))).to.equal(false);
    expect(store.size().entries).to.equal(0);
  });

  it('evicts least recently used entries to stay within max_size bytes', () => {
    const one = stored(fresh, { url: 'http://h/0', body: 'x'.repeat(1000) });
    const store = new LruStore({ maxSize: one.size * 3, maxObjectSize: one.size * 3 });
    const entries = [0, 1, 2, 3].map((i) => stored(fresh, { url: `http://h/${i}`, body: 'x'.repeat(1000) }));
    store.insert(entries[0]!); store.insert(entries[1]!); store.insert(entries[2]!);
    store.lookup(entries[0]!.key, {}); // 0 is now more recent than 1
    store.insert(entries[3]!);
    expect(store.lookup(entries[1]!.key, {}).result).to.equal('uri-miss');
    expect(store.lookup(entries[0]!.key, {}).result).to.equal('hit');
    expect(store.size().bytes).to.be.at.most(one.size * 3);
    expect(store.size().keys).to.equal(3);
  });

  it('replacing a variant keeps the byte count exact', () => {
    const store = new LruStore({ maxSize: 1 << 20, maxObjectSize: 1 << 20 });
    const a = stored(fresh, { body: 'x'.repeat(100) });
    const b = stored(fresh, { body: 'x'.repeat(300) });
    store.insert(a); store.insert(b);
    expect(store.size()).to.deep.include({ entries: 1, keys: 1, bytes: b.size });
  });

  it('purge by URI removes all variants; purge by prefix counts what it removed', () => {
    const store = new LruStore({ maxSize: 1 << 20, maxObjectSize: 1 << 20 });
    store.insert(stored({ ...fresh, vary: 'Foo' }, { url: 'http://h/api/a', reqHeaders: { foo: '1' } }));
    store.insert(stored({ ...fresh, vary: 'Foo' }, { url: 'http://h/api/a', reqHeaders: { foo: '2' } }));
    store.insert(stored(fresh, { url: 'http://h/api/b' }));
    store.insert(stored(fresh, { url: 'http://h/other' }));
    store.insert(stored(fresh, { url: 'http://h.evil/api' }));
    expect(store.purge({ uri: 'HTTP://H:80/api/a' })).to.equal(2);
    expect(store.purge({ uri: 'http://h/api/a' })).to.equal(0);
    store.insert(stored(fresh, { url: 'http://h/api/c' }));
    expect(store.purge({ prefix: 'http://H/api/' })).to.equal(2);
    expect(store.purge({ prefix: 'http://h' })).to.equal(1); // normalised to http://h/, so h.evil stays
    expect(store.size()).to.deep.include({ entries: 1, keys: 1 });
  });

  it('purge by a path prefix matches on any host', () => {
    const store = new LruStore({ maxSize: 1 << 20, maxObjectSize: 1 << 20 });
    store.insert(stored(fresh, { url: 'http://a/img/1' }));
    store.insert(stored(fresh, { url: 'https://b:8443/img/2?x' }));
    store.insert(stored(fresh, { url: 'http://a/css/img' }));
    expect(store.purge({ prefix: '/img/' })).to.equal(2);
    expect(store.size().keys).to.equal(1);
  });

  it('delete removes one variant and keeps the index consistent', () => {
    const store = new LruStore({ maxSize: 1 << 20, maxObjectSize: 1 << 20 });
    const a = stored({ ...fresh, vary: 'Foo' }, { reqHeaders: { foo: '1' } });
    store.insert(a);
    expect(store.delete(a)).to.equal(true);
    expect(store.lookup(a.key, { foo: '1' }).result).to.equal('uri-miss');
    expect(store.size()).to.deep.include({ entries: 0, keys: 0, bytes: 0 });
  });
});
