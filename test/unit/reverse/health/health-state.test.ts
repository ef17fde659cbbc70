import { HealthState } from '../../../../src/reverse/health/health-state.js';
import { expect } from '../expect.js';

describe('health: fall/rise state', () => {
  it('goes down only after `fall` consecutive failures and back after `rise` successes', () => {
    const s = new HealthState({ fall: 3, rise: 2 });
    expect(s.healthy).to.equal(true);
    expect(s.record(false, 'status 500')).to.equal(undefined);
    expect(s.record(false, 'status 500')).to.equal(undefined);
    expect(s.record(true)).to.equal(undefined); // streak broken
    expect(s.record(false)).to.equal(undefined);
    expect(s.record(false)).to.equal(undefined);
    expect(s.record(false, 'timeout after 1000ms')).to.deep.equal({
      from: 'healthy', to: 'unhealthy', reason: '3 consecutive failures (timeout after 1000ms)',
    });
    expect(s.healthy).to.equal(false);
    expect(s.record(false)).to.equal(undefined);
    expect(s.record(true)).to.equal(undefined);
    expect(s.record(false)).to.equal(undefined);
    expect(s.record(true)).to.equal(undefined);
    expect(s.record(true, 'status 200')).to.deep.equal({ from: 'unhealthy', to: 'healthy', reason: '2 consecutive successes (status 200)' });
    expect(s.status).to.equal('healthy');
    expect(s.lastReason).to.equal('status 200');
  });

  it('supports fall/rise 1 and an unhealthy initial state', () => {
    const s = new HealthState({ fall: 1, rise: 1, initial: 'unhealthy' });
    expect(s.healthy).to.equal(false);
    expect(s.record(true)).to.deep.equal({ from: 'unhealthy', to: 'healthy', reason: '1 consecutive success' });
    expect(s.record(false)?.to).to.equal('unhealthy');
  });
});
