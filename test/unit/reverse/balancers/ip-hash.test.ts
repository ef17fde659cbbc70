import { IpHashBalancer } from '../../../../src/reverse/balancers/ip-hash.js';
import { expect } from '../expect.js';
import { pool, tally, upstream } from '../fixtures.js';

const ips = Array.from({ length: 3000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

describe('balancers: ip_hash', () => {
  it('maps a client address to the same upstream every time, whatever the pool order', () => {
    const b = new IpHashBalancer();
    const p = pool(4);
    const first = ips.map((ip) => b.pick({ clientIp: ip }, p)!.id);
    const again = ips.map((ip) => new IpHashBalancer().pick({ clientIp: ip }, [...p].reverse())!.id);
    expect(again).to.deep.equal(first);
  });

  it('spreads clients across upstreams by weight', () => {
    const b = new IpHashBalancer();
    const p = [upstream('a', { weight: 2 }), upstream('b'), upstream('c')];
    const t = tally(ips.map((ip) => b.pick({ clientIp: ip }, p)));
    expect(t.a).to.be.within(1350, 1650);
    expect(t.b).to.be.within(600, 900);
    expect(t.c).to.be.within(600, 900);
  });

  it('moves only the clients of an unavailable upstream, deterministically, and back when it returns', () => {
    const b = new IpHashBalancer();
    const p = pool(4);
    const before = ips.map((ip) => b.pick({ clientIp: ip }, p)!.id);
    p[1]!.available = false;
    const during = ips.map((ip) => b.pick({ clientIp: ip }, p)!.id);
    const during2 = ips.map((ip) => b.pick({ clientIp: ip }, p)!.id);
    expect(during2).to.deep.equal(during);
    ips.forEach((_, i) => {
      if (before[i] !== p[1]!.id) expect(during[i]).to.equal(before[i]);
      else expect(during[i]).to.not.equal(p[1]!.id);
    });
    // the moved clients spread over the remaining upstreams instead of piling on one neighbour
    const moved = new Set(during.filter((_, i) => before[i] === p[1]!.id));
    expect(moved.size).to.equal(3);
    p[1]!.available = true;
    expect(ips.map((ip) => b.pick({ clientIp: ip }, p)!.id)).to.deep.equal(before);
  });

  it('goes round-robin without a client address and returns undefined with none available', () => {
    const b = new IpHashBalancer();
    const p = pool(2);
    expect([b.pick({}, p)!.id, b.pick({}, p)!.id]).to.deep.equal([p[0]!.id, p[1]!.id]);
    p.forEach((u) => (u.available = false));
    expect(b.pick({ clientIp: '10.0.0.1' }, p)).to.equal(undefined);
  });
});
