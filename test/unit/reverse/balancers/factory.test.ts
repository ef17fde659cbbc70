import { createBalancer } from '../../../../src/reverse/balancers/factory.js';
import { BALANCER_NAMES } from '../../../../src/config/balancer-names.js';
import { expect } from '../expect.js';
import { pool, seeded } from '../fixtures.js';

describe('balancers: factory', () => {
  it('creates every named balancer, each skipping unavailable upstreams', () => {
    for (const name of BALANCER_NAMES) {
      const b = createBalancer(name, { hashKey: 'ip', random: seeded() });
      const p = pool(3);
      p[0]!.available = false;
      p[2]!.available = false;
      for (let i = 0; i < 20; i++) expect(b.pick({ clientIp: `10.0.0.${i}` }, p), name).to.equal(p[1]);
      p[1]!.available = false;
      expect(b.pick({ clientIp: '10.0.0.1' }, p), name).to.equal(undefined);
    }
  });

  it('throws on an unknown name or bad hash_key', () => {
    expect(() => createBalancer('fastest' as never, {})).to.throw(/unknown balancer/);
    expect(() => createBalancer('consistent_hash', { hashKey: 'nope' })).to.throw(/hash_key|ip, path/);
  });
});
