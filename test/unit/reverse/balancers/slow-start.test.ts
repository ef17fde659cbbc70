import { inSlowStart, slowStartWeight } from '../../../../src/reverse/balancers/slow-start.js';
import { expect } from '../expect.js';

describe('balancers: slow_start', () => {
  it('ramps linearly from 10% to the full weight over slow_start', () => {
    expect(slowStartWeight(10, 1000, 1000, 30_000)).to.equal(1);
    expect(slowStartWeight(10, 1000, 1000 + 15_000, 30_000)).to.equal(5);
    expect(slowStartWeight(10, 1000, 1000 + 30_000, 30_000)).to.equal(10);
    expect(slowStartWeight(10, 1000, 1000 + 99_000, 30_000)).to.equal(10);
    expect(inSlowStart(1000, 1000 + 29_999, 30_000)).to.equal(true);
    expect(inSlowStart(1000, 1000 + 30_000, 30_000)).to.equal(false);
  });

  it('is off for slow_start 0', () => {
    expect(slowStartWeight(3, 1000, 1000, 0)).to.equal(3);
    expect(inSlowStart(1000, 1000, 0)).to.equal(false);
  });
});
