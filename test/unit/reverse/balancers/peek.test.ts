import type { Balancer } from '../../../../src/reverse/balancers/balancer.js';
import { ConsistentHashBalancer } from '../../../../src/reverse/balancers/consistent-hash.js';
import { IpHashBalancer } from '../../../../src/reverse/balancers/ip-hash.js';
import { RoundRobinBalancer } from '../../../../src/reverse/balancers/round-robin.js';
import { WeightedRoundRobinBalancer } from '../../../../src/reverse/balancers/weighted-round-robin.js';
import { expect } from '../expect.js';
import { pool, upstream } from '../fixtures.js';

// The simulator peeks: what pick() would answer now, leaving the live rotation where it was.
describe('balancers: peek changes nothing', () => {
  const cases: [string, () => Balancer, object][] = [
    ['round_robin', () => new RoundRobinBalancer(), {}],
    ['weighted_round_robin', () => new WeightedRoundRobinBalancer(), {}],
    ['ip_hash without a client address (its round-robin fallback)', () => new IpHashBalancer(), {}],
    ['consistent_hash without its key (its round-robin fallback)', () => new ConsistentHashBalancer('header:x-user'), { headers: {} }],
  ];
  for (const [name, make, ctx] of cases) {
    it(`${name}: peek answers what the next pick answers, and the picks after are as without it`, () => {
      const p = pool(3);
      const plain = make();
      const peeked = make();
      for (let i = 0; i < 7; i++) {
        const next = peeked.peek!(ctx, p);
        expect(peeked.pick(ctx, p)).to.equal(next);
        expect(next).to.equal(plain.pick(ctx, p));
      }
    });
  }

  it('round_robin skips unavailable upstreams in peek and pick alike', () => {
    const p = [upstream('a'), upstream('b', { available: false }), upstream('c')];
    const b = new RoundRobinBalancer();
    expect([b.pick({}, p)!.id, b.peek({}, p)!.id, b.pick({}, p)!.id, b.pick({}, p)!.id]).to.deep.equal(['a', 'c', 'c', 'a']);
  });
});
