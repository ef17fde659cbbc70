import { parseExpectStatus } from '../../../../src/reverse/health/status-matcher.js';
import { expect } from '../expect.js';

describe('health: expect_status', () => {
  it('accepts statuses, ranges and classes', () => {
    const m = parseExpectStatus([200, '204', '300-302', '5xx']);
    expect([200, 204, 300, 302, 503].map(m)).to.deep.equal([true, true, true, true, true]);
    expect([201, 303, 404].map(m)).to.deep.equal([false, false, false]);
  });

  it('defaults to 200-399', () => {
    const m = parseExpectStatus(undefined);
    expect([200, 399, 400, 199].map(m)).to.deep.equal([true, true, false, false]);
  });

  it('rejects nonsense', () => {
    for (const bad of ['ok', '200-', '399-200', 99, '700', '6xx']) expect(() => parseExpectStatus([bad])).to.throw(/expect_status/);
  });
});
