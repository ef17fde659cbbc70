import { PassiveTracker } from '../../../../src/reverse/health/passive.js';
import { expect } from '../expect.js';

describe('health: passive ejection', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1_000_000));

  it('ejects after max_failures within window, and not when they are spread out', () => {
    const t = new PassiveTracker({ max_failures: 3, window: 10_000, eject: 30_000, now: clock });
    expect(t.failure('a', 4)).to.deep.equal({ action: 'counted', failures: 1 });
    now += 6_000;
    t.failure('a', 4);
    now += 6_000; // the first failure left the window
    expect(t.failure('a', 4)).to.deep.equal({ action: 'counted', failures: 2 });
    expect(t.isEjected('a')).to.equal(false);
    now += 1_000;
    expect(t.failure('a', 4, 'timeout')).to.deep.equal({ action: 'ejected', until: now + 30_000, durationMs: 30_000, ejections: 1 });
    expect(t.isEjected('a')).to.equal(true);
    expect(t.failure('a', 4)).to.deep.equal({ action: 'ignored' });
    now += 30_000;
    expect(t.isEjected('a')).to.equal(false);
  });

  it('doubles the ejection on repeats up to the cap, and decays while the upstream behaves', () => {
    const t = new PassiveTracker({ max_failures: 1, eject: 30_000, max_eject: 100_000, now: clock });
    const durations: number[] = [];
    for (let i = 0; i < 4; i++) {
      const v = t.failure('a', 2);
      if (v.action !== 'ejected') throw new Error(v.action);
      durations.push(v.durationMs);
      now = v.until; // fails again the moment it is back
    }
    expect(durations).to.deep.equal([30_000, 60_000, 100_000, 100_000]);
    now += 3 * 30_000; // three clean eject periods: 4 recent ejections decay to 1
    const v = t.failure('a', 2);
    expect(v).to.include({ action: 'ejected', durationMs: 60_000, ejections: 2 });
  });

  it('never ejects more than half of a pool, and never the only upstream', () => {
    const t = new PassiveTracker({ max_failures: 1, eject: 10_000, now: clock });
    expect(t.failure('a', 4).action).to.equal('ejected');
    expect(t.failure('b', 4).action).to.equal('ejected');
    expect(t.failure('c', 4).action).to.equal('capped');
    expect(t.isEjected('c')).to.equal(false);
    expect(t.ejectedCount()).to.equal(2);
    now += 10_000;
    expect(t.failure('c', 4).action).to.equal('ejected');
    expect(new PassiveTracker({ max_failures: 1, now: clock }).failure('only', 1).action).to.equal('capped');
    const three = new PassiveTracker({ max_failures: 1, now: clock });
    expect(three.failure('a', 3).action).to.equal('ejected');
    expect(three.failure('b', 3).action).to.equal('capped');
  });

  it('counts 5xx only when configured, and can reinstate and forget', () => {
    const off = new PassiveTracker({ max_failures: 1, now: clock });
    expect(off.failure('a', 2, 'status_5xx').action).to.equal('ignored');
    const on = new PassiveTracker({ max_failures: 1, count_5xx: true, now: clock });
    expect(on.failure('a', 2, 'status_5xx').action).to.equal('ejected');
    expect(on.snapshot('a')).to.include({ ejections: 1, ejectedUntil: now + 30_000 });
    on.reinstate('a');
    expect(on.isEjected('a')).to.equal(false);
    on.remove('a');
    expect(on.snapshot('a')).to.deep.equal({ ejectedUntil: 0, ejections: 0, failures: 0 });
  });
});
