import { expect } from 'chai';
import { renewalTime, retryDelay } from '../../../src/tls/acme/acme-manager.js';

const DAY = 86_400_000;
const MIN = 60_000;

describe('ACME renewal timing', () => {
  it('renews a 90-day certificate at day 60, up to 2% of the lifetime earlier', () => {
    expect(renewalTime(0, 90 * DAY, 0)).to.equal(60 * DAY);
    expect(renewalTime(0, 90 * DAY, 1)).to.be.closeTo(60 * DAY - 1.8 * DAY, 1);
  });

  it('backs off from 1 min, doubling to 1 h, with ±20% jitter', () => {
    expect([1, 2, 3, 7, 20].map((n) => retryDelay(n, undefined, 0.5))).to.deep.equal([MIN, 2 * MIN, 4 * MIN, 60 * MIN, 60 * MIN]);
    expect(retryDelay(1, undefined, 0)).to.equal(0.8 * MIN);
    expect(retryDelay(1, undefined, 1)).to.equal(1.2 * MIN);
  });

  it('retries within a third of the remaining lifetime, at least every second', () => {
    expect(retryDelay(5, 30_000, 0.5)).to.equal(10_000);
    expect(retryDelay(5, 0, 0.5)).to.equal(1000);
  });
});
