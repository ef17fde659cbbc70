import { LeastTimeBalancer } from '../../../../src/reverse/balancers/least-time.js';
import { expect } from '../expect.js';
import { seeded, tally, upstream } from '../fixtures.js';

describe('balancers: least_time', () => {
  it('prefers the fast upstream but still sends some traffic to the slow one', () => {
    const b = new LeastTimeBalancer(seeded(3));
    const p = [upstream('fast', { responseTimeMs: 10 }), upstream('slow', { responseTimeMs: 200 })];
    const t = tally(Array.from({ length: 10_000 }, () => b.pick({}, p)));
    expect(t.fast).to.be.above(9500);
    expect(t.slow).to.be.within(150, 400); // ~2.5%: half of the 5% exploration share
  });

  it('weighs response time by in-flight requests', () => {
    const b = new LeastTimeBalancer(seeded(), 0);
    const p = [upstream('a', { responseTimeMs: 10, inflight: 9 }), upstream('b', { responseTimeMs: 50, inflight: 0 })];
    expect(b.pick({}, p)!.id).to.equal('b'); // 10×10 > 50×1
  });

  it('tries an unmeasured upstream at once, then treats it as fast as the fastest while busy', () => {
    const b = new LeastTimeBalancer(seeded(), 0);
    const fresh = upstream('fresh');
    const p = [upstream('a', { responseTimeMs: 20 }), fresh];
    expect(b.pick({}, p)).to.equal(fresh);
    fresh.inflight = 3; // estimate 20 × 4 = 80 > 20 × 1
    expect(b.pick({}, p)!.id).to.equal('a');
  });

  it('lets a slow upstream recover: exploration keeps measuring it', () => {
    const b = new LeastTimeBalancer(seeded(5));
    const slow = upstream('slow', { responseTimeMs: 500 });
    const p = [upstream('fast', { responseTimeMs: 30 }), slow];
    for (let i = 0; i < 2000; i++) {
      // the upstream's EWMA (alpha 0.3) moves only when it serves; it is healthy again at 5 ms
      if (b.pick({}, p) === slow) slow.responseTimeMs = 0.7 * slow.responseTimeMs + 0.3 * 5;
    }
    expect(slow.responseTimeMs).to.be.below(30);
    const t = tally(Array.from({ length: 1000 }, () => b.pick({}, p)));
    expect(t.slow).to.be.above(900);
  });

  it('skips unavailable upstreams', () => {
    const b = new LeastTimeBalancer(seeded());
    const p = [upstream('a', { responseTimeMs: 1, available: false }), upstream('b', { responseTimeMs: 100 })];
    for (let i = 0; i < 100; i++) expect(b.pick({}, p)!.id).to.equal('b');
    p[1]!.available = false;
    expect(b.pick({}, p)).to.equal(undefined);
  });
});
