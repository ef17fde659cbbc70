import { expect } from 'chai';
import { cacheStatus } from '../../../src/cache/cache-status.js';
import { parseSfDictionary } from '../../../src/cache/structured-fields.js';

describe('Cache-Status (RFC 9211)', () => {
  it('§2.1 hit with ttl', () => {
    expect(cacheStatus({ hit: true, ttl: 376.9 })).to.equal('gatehouse; hit; ttl=376');
  });

  it('§2.2 fwd reasons, §2.5 stored', () => {
    expect(cacheStatus({ fwd: 'uri-miss', stored: true })).to.equal('gatehouse; fwd=uri-miss; stored');
    expect(cacheStatus({ fwd: 'vary-miss' })).to.equal('gatehouse; fwd=vary-miss');
    expect(cacheStatus({ fwd: 'bypass', detail: 'no-store' })).to.equal('gatehouse; fwd=bypass; detail=no-store');
  });

  it('§2.3 fwd-status on revalidation; a stale ttl is negative', () => {
    expect(cacheStatus({ fwd: 'stale', fwdStatus: 304, ttl: -12.2 })).to.equal('gatehouse; fwd=stale; fwd-status=304; ttl=-13');
  });

  it('§2.6 collapsed true/false, §2.7 key and §2.8 detail as strings when not tokens', () => {
    expect(cacheStatus({ fwd: 'uri-miss', collapsed: false })).to.equal('gatehouse; fwd=uri-miss; collapsed=?0');
    expect(cacheStatus({ hit: true, collapsed: true, key: 'GET http://h/"a"', detail: 'two words' }))
      .to.equal('gatehouse; hit; collapsed; key="GET http://h/\\"a\\""; detail="two words"');
  });

  it('uses the node id as the cache name, quoted when it is not a token', () => {
    expect(cacheStatus({ hit: true }, 'gh-1')).to.equal('gh-1; hit');
    expect(cacheStatus({ hit: true }, '1gh')).to.equal('"1gh"; hit');
  });

  it('output parses as a structured field member', () => {
    // A list member with parameters is also a valid dictionary member whose key is the token.
    expect(parseSfDictionary(cacheStatus({ fwd: 'stale', fwdStatus: 304, ttl: 3, stored: true }))).to.not.equal(undefined);
  });
});
