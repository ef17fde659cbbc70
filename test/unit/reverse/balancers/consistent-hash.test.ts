import { ConsistentHashBalancer } from '../../../../src/reverse/balancers/consistent-hash.js';
import { parseHashKey } from '../../../../src/reverse/balancers/request-key.js';
import type { PickContext } from '../../../../src/reverse/balancers/balancer.js';
import { expect } from '../expect.js';
import { pool, tally, upstream } from '../fixtures.js';

const keys = Array.from({ length: 10_000 }, (_, i) => `/item/${i}`);
const ctx = (path: string): PickContext => ({ path });

describe('balancers: consistent_hash', () => {
  for (const n of [3, 5, 10]) {
    it(`moves at most 1.5/N of 10 000 keys when one of ${n} upstreams is removed`, () => {
      const b = new ConsistentHashBalancer('path');
      const p = pool(n);
      const before = keys.map((k) => b.pick(ctx(k), p)!.id);
      const removed = p[Math.floor(n / 2)]!;
      const after = keys.map((k) => b.pick(ctx(k), p.filter((u) => u !== removed))!.id);
      const moved = before.filter((id, i) => id !== after[i]).length;
      expect(moved).to.be.at.most((1.5 / n) * keys.length);
      // and only the removed upstream's keys moved
      before.forEach((id, i) => {
        if (id !== removed.id) expect(after[i]).to.equal(id);
      });
    });
  }

  it('moves only about 1/(N+1) of keys when an upstream is added', () => {
    const b = new ConsistentHashBalancer('path');
    const p = pool(5);
    const before = keys.map((k) => b.pick(ctx(k), p.slice(0, 4))!.id);
    const after = keys.map((k) => b.pick(ctx(k), p)!.id);
    const moved = before.filter((id, i) => id !== after[i]).length;
    expect(moved).to.be.at.most((1.5 / 5) * keys.length);
    after.forEach((id, i) => {
      if (id !== before[i]) expect(id).to.equal(p[4]!.id);
    });
  });

  it('spreads keys across upstreams in proportion to weight', () => {
    const b = new ConsistentHashBalancer('path');
    const p = pool(4);
    const t = tally(keys.map((k) => b.pick(ctx(k), p)));
    for (const u of p) expect(t[u.id]).to.be.within(1750, 3250);
    p[0]!.weight = 3;
    const w = tally(keys.map((k) => b.pick(ctx(k), p)));
    expect(w[p[0]!.id]).to.be.within(4300, 5700); // 3/6 of keys
  });

  it('skips an unavailable owner to the next one on the ring, moving only its keys', () => {
    const b = new ConsistentHashBalancer('path');
    const p = pool(4);
    const before = keys.map((k) => b.pick(ctx(k), p)!.id);
    p[2]!.available = false;
    const ring = b.ringSize;
    const after = keys.map((k) => b.pick(ctx(k), p)!.id);
    expect(b.ringSize).to.equal(ring); // availability does not rebuild the ring
    before.forEach((id, i) => {
      if (id !== p[2]!.id) expect(after[i]).to.equal(id);
      else expect(after[i]).to.not.equal(id);
    });
    p.forEach((u) => (u.available = false));
    expect(b.pick(ctx('/x'), p)).to.equal(undefined);
  });

  it('hashes ip, header:NAME, cookie:NAME and path; falls back to round-robin without a key', () => {
    const p = pool(5);
    const byIp = new ConsistentHashBalancer('ip');
    expect(byIp.pick({ clientIp: '10.1.2.3' }, p)).to.equal(byIp.pick({ clientIp: '10.1.2.3' }, p));
    const byHeader = new ConsistentHashBalancer('header:X-Tenant');
    const h = (t: string) => byHeader.pick({ headers: { 'x-tenant': t } }, p)!.id;
    expect(new Set(Array.from({ length: 50 }, () => h('acme'))).size).to.equal(1);
    expect(new Set(Array.from({ length: 200 }, (_, i) => h(`t${i}`))).size).to.equal(5);
    const byCookie = new ConsistentHashBalancer('cookie:sid');
    const c = (v: string) => byCookie.pick({ headers: { cookie: `a=1; sid=${v}; b=2` } }, p)!.id;
    expect(c('abc')).to.equal(c('abc'));
    expect(new Set(Array.from({ length: 200 }, (_, i) => c(`s${i}`))).size).to.equal(5);
    const byPath = new ConsistentHashBalancer('path');
    expect(byPath.pick({ path: '/a?x=1' }, p)).to.equal(byPath.pick({ path: '/a?y=2' }, p));
    const rr = [byHeader.pick({}, p)!.id, byHeader.pick({}, p)!.id];
    expect(rr).to.deep.equal([p[0]!.id, p[1]!.id]);
  });

  it('rebuilds the ring only when membership or weights change', () => {
    const b = new ConsistentHashBalancer('path');
    const p = pool(3);
    b.pick(ctx('/'), p);
    expect(b.ringSize).to.equal(300);
    b.pick(ctx('/'), [...p]); // same membership in a new array: kept
    expect(b.ringSize).to.equal(300);
    p[0]!.weight = 0.5; // slow start ramp
    b.pick(ctx('/'), p);
    expect(b.ringSize).to.equal(250);
    b.pick(ctx('/'), [...p, upstream('extra')]);
    expect(b.ringSize).to.equal(350);
  });

  it('rejects an invalid hash_key', () => {
    expect(() => parseHashKey('query')).to.throw(/ip, path, header:NAME or cookie:NAME/);
    expect(() => parseHashKey('header:')).to.throw();
    expect(parseHashKey('header:X-User')).to.deep.equal({ kind: 'header', name: 'x-user' });
  });
});
