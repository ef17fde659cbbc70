import { WeightedRoundRobinBalancer } from '../../../../src/reverse/balancers/weighted-round-robin.js';
import { expect } from '../expect.js';
import { tally, upstream } from '../fixtures.js';

describe('balancers: weighted_round_robin (smooth)', () => {
  const make = () => [upstream('a', { weight: 5 }), upstream('b', { weight: 1 }), upstream('c', { weight: 1 })];

  it('gives 5:1:1 exactly over 7000 picks', () => {
    const b = new WeightedRoundRobinBalancer();
    const p = make();
    const picks = Array.from({ length: 7000 }, () => b.pick({}, p));
    expect(tally(picks)).to.deep.equal({ a: 5000, b: 1000, c: 1000 });
  });

  it('interleaves as nginx does and never sends more than 4 in a row to the heavy one', () => {
    const b = new WeightedRoundRobinBalancer();
    const p = make();
    const ids = Array.from({ length: 7000 }, () => b.pick({}, p)!.id);
    expect(ids.slice(0, 7).join('')).to.equal('aabacaa');
    let run = 0;
    let longest = 0;
    for (const id of ids) {
      run = id === 'a' ? run + 1 : 0;
      longest = Math.max(longest, run);
    }
    expect(longest).to.be.at.most(4);
  });

  it('skips unavailable upstreams and returns undefined when none is available', () => {
    const b = new WeightedRoundRobinBalancer();
    const p = make();
    p[0]!.available = false;
    expect(tally(Array.from({ length: 100 }, () => b.pick({}, p)))).to.deep.equal({ b: 50, c: 50 });
    p.forEach((u) => (u.available = false));
    expect(b.pick({}, p)).to.equal(undefined);
    expect(b.pick({}, [])).to.equal(undefined);
  });

  it('follows weight changes and removals', () => {
    const b = new WeightedRoundRobinBalancer();
    const p = make();
    p[0]!.weight = 1;
    expect(tally(Array.from({ length: 300 }, () => b.pick({}, p)))).to.deep.equal({ a: 100, b: 100, c: 100 });
    const q = p.slice(1);
    expect(tally(Array.from({ length: 100 }, () => b.pick({}, q)))).to.deep.equal({ b: 50, c: 50 });
  });
});
