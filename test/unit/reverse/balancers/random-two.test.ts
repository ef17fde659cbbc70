import { RandomTwoBalancer } from '../../../../src/reverse/balancers/random-two.js';
import { expect } from '../expect.js';
import { seeded, tally, upstream } from '../fixtures.js';

describe('balancers: random_two', () => {
  it('prefers the upstream with fewer in-flight requests', () => {
    const b = new RandomTwoBalancer(seeded());
    const p = [upstream('busy', { inflight: 10 }), upstream('idle'), upstream('mid', { inflight: 5 })];
    const t = tally(Array.from({ length: 3000 }, () => b.pick({}, p)));
    expect(t.busy ?? 0).to.equal(0); // the busiest loses every pair it is in
    expect(t.idle).to.be.within(1900, 2100); // in 2 of the 3 pairs
    expect(t.mid).to.be.within(900, 1100);
  });

  it('respects weights when loads are equal', () => {
    const b = new RandomTwoBalancer(seeded(9));
    const p = [upstream('a', { weight: 3 }), upstream('b'), upstream('c')];
    const t = tally(Array.from({ length: 10_000 }, () => b.pick({}, p)));
    expect(t.a).to.be.above(t.b * 2);
    expect(t.a).to.be.above(t.c * 2);
  });

  it('balances a closed loop with slow and fast upstreams away from the slow one', () => {
    const b = new RandomTwoBalancer(seeded(1));
    const p = [upstream('slow'), upstream('f1'), upstream('f2'), upstream('f3')];
    let slowPicks = 0;
    for (let i = 0; i < 400; i++) {
      const u = b.pick({}, p)!;
      if (u.id === 'slow') {
        slowPicks++;
        (u as { inflight: number }).inflight++;
      }
    }
    expect(slowPicks).to.be.below(10);
  });

  it('handles one or no available upstream', () => {
    const b = new RandomTwoBalancer(seeded());
    const p = [upstream('a', { available: false }), upstream('b', { inflight: 50 })];
    expect(b.pick({}, p)!.id).to.equal('b');
    p[1]!.available = false;
    expect(b.pick({}, p)).to.equal(undefined);
  });
});
