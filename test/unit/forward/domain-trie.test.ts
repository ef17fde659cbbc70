import { expect } from 'chai';
import { DomainTrie, normalizeDomainName, parseDomainPattern } from '../../../src/forward/domain-trie.js';

describe('forward/domain-trie', () => {
  const trie = new DomainTrie<string>();
  before(() => {
    for (const [p, v] of [['example.com', 'exact'], ['*.wild.test', 'sub'], ['.squid.test', 'both'], ['deep.a.wild.test', 'deep-exact'],
      ['*.b.wild.test', 'deeper-wild'], ['Mixed.CASE.test.', 'mixed'], ['bücher.de', 'idn']] as const) {
      expect(trie.add(p, v)).to.equal(undefined);
    }
  });

  it('matches exact names only exactly', () => {
    expect(trie.match('example.com')?.value).to.equal('exact');
    expect(trie.match('www.example.com')).to.equal(undefined);
    expect(trie.match('com')).to.equal(undefined);
    expect(trie.match('xexample.com')).to.equal(undefined);
  });

  it('*.name matches names below at any depth, not the apex', () => {
    expect(trie.match('a.wild.test')?.value).to.equal('sub');
    expect(trie.match('x.y.z.wild.test')?.value).to.equal('sub');
    expect(trie.match('wild.test')).to.equal(undefined);
    expect(trie.match('notwild.test')).to.equal(undefined);
  });

  it('.name (Squid) matches the apex and names below', () => {
    expect(trie.match('squid.test')?.value).to.equal('both');
    expect(trie.match('a.b.squid.test')?.value).to.equal('both');
    expect(trie.match('xsquid.test')).to.equal(undefined);
  });

  it('returns the most specific match with its pattern', () => {
    expect(trie.match('deep.a.wild.test')).to.deep.equal({ pattern: 'deep.a.wild.test', value: 'deep-exact' });
    expect(trie.match('x.b.wild.test')?.value).to.equal('deeper-wild');
    expect(trie.match('b.wild.test')?.value).to.equal('sub');
  });

  it('is case-insensitive and ignores one trailing dot, on both sides', () => {
    expect(trie.match('EXAMPLE.Com.')?.value).to.equal('exact');
    expect(trie.match('mixed.case.test')?.value).to.equal('mixed');
    expect(trie.match('A.WILD.TEST')?.value).to.equal('sub');
  });

  it('compares IDN names as punycode', () => {
    expect(trie.match('xn--bcher-kva.de')?.value).to.equal('idn');
  });

  it('never matches empty or malformed hosts', () => {
    for (const h of ['', '.', '..', '.com', 'example..com']) expect(trie.match(h), h).to.equal(undefined);
  });

  it('keeps the first entry for a duplicate and counts patterns', () => {
    const t = new DomainTrie<number>();
    t.add('a.test', 1);
    t.add('A.test.', 2);
    t.add('*.a.test', 3);
    expect(t.match('a.test')?.value).to.equal(1);
    expect(t.size).to.equal(2);
  });

  it('rejects invalid patterns with a message', () => {
    for (const bad of ['', '*', '*.', 'a.*.b', 'foo*.com', 'a b.com', 'a..b', '**.a.com', '-'.repeat(64)]) {
      expect(parseDomainPattern(bad), bad).to.be.a('string');
    }
    expect(parseDomainPattern('*.Example.COM.')).to.deep.equal({ kind: 'subdomains', name: 'example.com' });
    expect(parseDomainPattern('.example.com')).to.deep.equal({ kind: 'apex_and_subdomains', name: 'example.com' });
    expect(normalizeDomainName('ÉCOLE.fr')).to.equal('xn--cole-9oa.fr');
  });
});
