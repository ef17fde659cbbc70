import { LeastConnBalancer } from '../../../../src/reverse/balancers/least-conn.js';
import { expect } from '../expect.js';
import { seeded, tally, upstream } from '../fixtures.js';

describe('balancers: least_conn', () => {
  it('sends new requests away from an upstream holding slow requests', () => {
    const b = new LeastConnBalancer(seeded());
    const p = [upstream('slow'), upstream('x'), upstream('y')];
    // simulate: 'slow' holds every request it gets, the others finish at once
    const got: string[] = [];
    for (let i = 0; i < 300; i++) {
      const u = b.pick({}, p)!;
      got.push(u.id);
      if (u.id === 'slow') (u as { inflight: number }).inflight++;
    }
    expect(got.filter((id) => id === 'slow')).to.have.length(1);
  });

  it('compares inflight per unit of weight', () => {
    const b = new LeastConnBalancer(seeded());
    const p = [upstream('heavy', { weight: 4, inflight: 6 }), upstream('light', { weight: 1, inflight: 2 })];
    expect(b.pick({}, p)!.id).to.equal('heavy'); // 1.5 < 2
  });

  it('breaks ties fairly, by weight, not always the first', () => {
    const b = new LeastConnBalancer(seeded(7));
    const p = [upstream('a', { weight: 2 }), upstream('b'), upstream('c')];
    const t = tally(Array.from({ length: 8000 }, () => b.pick({}, p)));
    expect(t.a).to.be.within(3800, 4200);
    expect(t.b).to.be.within(1800, 2200);
    expect(t.c).to.be.within(1800, 2200);
  });

  it('skips unavailable upstreams', () => {
    const b = new LeastConnBalancer(seeded());
    const p = [upstream('a', { available: false }), upstream('b', { inflight: 9 })];
    expect(b.pick({}, p)!.id).to.equal('b');
    p[1]!.available = false;
    expect(b.pick({}, p)).to.equal(undefined);
  });
});
