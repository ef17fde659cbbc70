import { expect } from 'chai';
import { Coalescer } from '../../../src/cache/coalescer.js';

describe('Coalescer', () => {
  it('has one flight per key until it settles', () => {
    const c = new Coalescer();
    const f = c.lead('k');
    expect(c.current('k')).to.equal(f);
    f.settle();
    f.settle();
    expect(c.current('k')).to.equal(undefined);
    expect(c.size).to.equal(0);
  });

  it('a settled old flight does not remove a newer one', () => {
    const c = new Coalescer();
    const old = c.lead('k');
    const fresh = c.lead('k');
    old.settle();
    expect(c.current('k')).to.equal(fresh);
  });

  it('wait resolves true on settle and false on timeout', async () => {
    const c = new Coalescer();
    const f = c.lead('k');
    setTimeout(() => f.settle(), 5);
    expect(await c.wait(f, 15_000)).to.equal(true);
    expect(await c.wait(c.lead('other'), 10)).to.equal(false);
  });
});
