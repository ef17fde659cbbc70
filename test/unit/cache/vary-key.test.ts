import { expect } from 'chai';
import { cacheKey, effectiveUri, invalidationTargets, isSafeMethod, normaliseUri } from '../../../src/cache/cache-key.js';
import { parseVary, varyKey } from '../../../src/cache/vary.js';

describe('vary (RFC 9111 §4.1)', () => {
  it('parses names case-insensitively, de-duplicated and sorted; * wins', () => {
    expect(parseVary({ vary: 'Foo, bar, FOO' })).to.deep.equal(['bar', 'foo']);
    expect(parseVary({ vary: ['Foo', 'Bar'] })).to.deep.equal(['bar', 'foo']);
    expect(parseVary({ vary: 'Foo, *' })).to.equal('*');
    expect(parseVary({})).to.deep.equal([]);
  });

  it('matching requests give the same secondary key; different values or header order of a value differ', () => {
    const names = ['bar', 'baz', 'foo'];
    const a = varyKey(names, { foo: '1', bar: 'abc', baz: '789', other: '2' });
    expect(varyKey(names, { foo: '1', bar: 'abc', baz: '789', other: '3' })).to.equal(a);
    expect(varyKey(names, { foo: '2', bar: 'abc', baz: '789' })).to.not.equal(a);
    expect(varyKey(names, { foo: '1', bar: 'abc4', baz: '789' })).to.not.equal(a);
  });

  it('an absent selecting field matches only an absent one (not an empty one)', () => {
    expect(varyKey(['foo'], {})).to.equal(varyKey(['foo'], {}));
    expect(varyKey(['foo'], {})).to.not.equal(varyKey(['foo'], { foo: '1' }));
    expect(varyKey(['foo'], {})).to.not.equal(varyKey(['foo'], { foo: '' }));
  });

  it('normalises whitespace and combines field lines', () => {
    expect(varyKey(['foo'], { foo: ' 1, 2 ' })).to.equal(varyKey(['foo'], { foo: '1,2' }));
    expect(varyKey(['foo'], { foo: ['1', '2'] })).to.equal(varyKey(['foo'], { foo: '1, 2' }));
  });

  it('folds case of case-insensitive fields; reorders Accept-Encoding but keeps Accept-Language order', () => {
    expect(varyKey(['accept-encoding'], { 'accept-encoding': 'GZIP, br' })).to.equal(varyKey(['accept-encoding'], { 'accept-encoding': 'br,gzip' }));
    expect(varyKey(['accept-language'], { 'accept-language': 'EN-us' })).to.equal(varyKey(['accept-language'], { 'accept-language': 'en-US' }));
    expect(varyKey(['accept-language'], { 'accept-language': 'en, de' })).to.not.equal(varyKey(['accept-language'], { 'accept-language': 'de, en' }));
    expect(varyKey(['x-token'], { 'x-token': 'ABC' })).to.not.equal(varyKey(['x-token'], { 'x-token': 'abc' }));
  });
});

describe('cache keys (RFC 9111 §2)', () => {
  it('normalises scheme and host case, default port, empty path, fragment, percent-encoding', () => {
    expect(normaliseUri('HTTP://Example.COM:80?q=1#frag')).to.equal('http://example.com/?q=1');
    expect(normaliseUri('https://example.com:443/a/./b/../c')).to.equal('https://example.com/a/c');
    expect(normaliseUri('http://example.com:8080/%7euser/%2f?x=%7e%3a')).to.equal('http://example.com:8080/~user/%2F?x=~%3A');
  });

  it('HEAD and GET share the method class; the query is part of the key', () => {
    expect(cacheKey('HEAD', 'http://h/a?x=1')).to.equal(cacheKey('GET', 'http://h/a?x=1'));
    expect(cacheKey('GET', 'http://h/a?x=1')).to.not.equal(cacheKey('GET', 'http://h/a?x=2'));
    expect(cacheKey('GET', 'http://h/a')).to.equal('GET http://h/a');
  });

  it('effective URI from origin-form and absolute-form targets', () => {
    expect(effectiveUri('http', 'Example.com:80', '/a?b')).to.equal('http://example.com/a?b');
    expect(effectiveUri('http', 'ignored', 'http://Other.example/x')).to.equal('http://other.example/x');
  });
});

describe('invalidation (RFC 9111 §4.4)', () => {
  it('unsafe methods (and unknown ones) invalidate the target on 2xx/3xx', () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'M-SEARCH']) {
      expect(invalidationTargets(m, 200, 'http://h/a', {}), m).to.deep.equal(['http://h/a']);
    }
    expect(invalidationTargets('POST', 303, 'http://h/a', {})).to.deep.equal(['http://h/a']);
    expect(isSafeMethod('GET')).to.equal(true);
  });

  it('not on error statuses, not for safe methods', () => {
    expect(invalidationTargets('POST', 500, 'http://h/a', {})).to.deep.equal([]);
    expect(invalidationTargets('POST', 404, 'http://h/a', {})).to.deep.equal([]);
    expect(invalidationTargets('GET', 200, 'http://h/a', {})).to.deep.equal([]);
  });

  it('adds Location and Content-Location (relative or absolute) of the same origin only', () => {
    const t = invalidationTargets('POST', 201, 'http://h/a', { location: 'b', 'content-location': 'http://h/c' });
    expect(t).to.deep.equal(['http://h/a', 'http://h/b', 'http://h/c']);
    expect(invalidationTargets('PUT', 200, 'http://h/a', { location: 'http://evil/b' })).to.deep.equal(['http://h/a']);
    expect(invalidationTargets('PUT', 200, 'http://h/a', { location: 'https://h/b' })).to.deep.equal(['http://h/a']);
  });
});
