import { LeastConnBalancer } from '../../../../src/reverse/balancers/least-conn.js';
import { RoundRobinBalancer } from '../../../../src/reverse/balancers/round-robin.js';
import { IpStickyBalancer } from '../../../../src/reverse/sticky/ip-sticky.js';
import { expect } from '../expect.js';
import { pool, seeded } from '../fixtures.js';

describe('sticky: ip (source address)', () => {
  it('pins a client to the upstream the fallback chose first', () => {
    const p = pool(3);
    const b = new IpStickyBalancer(new RoundRobinBalancer());
    const a = b.pick({ clientIp: '10.0.0.1' }, p);
    const c = b.pick({ clientIp: '10.0.0.2' }, p);
    expect(a).to.not.equal(c);
    for (let i = 0; i < 50; i++) expect(b.pick({ clientIp: '10.0.0.1' }, p)).to.equal(a);
  });

  it('re-balances when the pinned upstream is unavailable and stays on the new one', () => {
    const p = pool(3);
    const b = new IpStickyBalancer(new LeastConnBalancer(seeded()));
    const first = p.find((u) => u === b.pick({ clientIp: '10.0.0.1' }, p))!;
    first.available = false;
    const second = b.pick({ clientIp: '10.0.0.1' }, p)!;
    expect(second).to.not.equal(first);
    first.available = true;
    for (let i = 0; i < 20; i++) expect(b.pick({ clientIp: '10.0.0.1' }, p)).to.equal(second);
  });

  it('forgets a client after ttl of inactivity and bounds the table', () => {
    let now = 0;
    const p = pool(3);
    const b = new IpStickyBalancer(new RoundRobinBalancer(), { ttlMs: 1000, maxEntries: 2, now: () => now });
    const a = b.pick({ clientIp: '1.1.1.1' }, p);
    now = 900;
    expect(b.pick({ clientIp: '1.1.1.1' }, p)).to.equal(a); // refreshed until 1900
    now = 1800;
    expect(b.pick({ clientIp: '1.1.1.1' }, p)).to.equal(a);
    now = 5000;
    expect(b.pick({ clientIp: '1.1.1.1' }, p)).to.not.equal(a); // expired: round-robin moved on
    b.pick({ clientIp: '2.2.2.2' }, p);
    b.pick({ clientIp: '3.3.3.3' }, p);
    expect(b.size).to.equal(2);
  });

  it('uses the fallback without a client address', () => {
    const p = pool(2);
    const b = new IpStickyBalancer(new RoundRobinBalancer());
    expect([b.pick({}, p), b.pick({}, p)]).to.deep.equal([p[0], p[1]]);
    expect(b.size).to.equal(0);
  });
});
