import { expect } from 'chai';
import {
  MAX_DELTA, parseCacheControl, parseTargetedField, requestCacheControl, responseCacheControl,
} from '../../../src/cache/cache-control.js';
import { parseSfDictionary } from '../../../src/cache/structured-fields.js';

describe('cache-control: parsing (RFC 9111 §5.2)', () => {
  it('§5.2: directive names are case-insensitive', () => {
    const cc = parseCacheControl('MaX-AgE=60, No-StOrE, PUBLIC');
    expect(cc.maxAge).to.equal(60);
    expect(cc.noStore).to.equal(true);
    expect(cc.public).to.equal(true);
  });

  it('§5.2: accepts the quoted-string form of an argument', () => {
    expect(parseCacheControl('max-age="3600"').maxAge).to.equal(3600);
  });

  it('§5.2: ignores directive names inside quoted strings (before and after the real one)', () => {
    expect(parseCacheControl('extension="max-age=3600", max-age=1').maxAge).to.equal(1);
    expect(parseCacheControl('max-age=1, extension="max-age=3600"').maxAge).to.equal(1);
    expect(parseCacheControl('ext="a, \\"max-age=9\\", b", max-age=2').maxAge).to.equal(2);
  });

  it('§5.2 field lines: several Cache-Control lines are combined', () => {
    const cc = parseCacheControl(['max-age=5', 'no-cache']);
    expect(cc.maxAge).to.equal(5);
    expect(cc.noCache).to.equal(true);
  });

  it('§4.2.1: an invalid max-age (letters, sign, decimal, single quotes, no value) makes it stale (0)', () => {
    for (const v of ['max-age=a100', 'max-age=100a', 'max-age=-100', 'max-age=3600.5', "max-age='3600'", 'max-age']) {
      expect(parseCacheControl(v).maxAge, v).to.equal(0);
    }
  });

  it('§4.2.1: whitespace around "=" is invalid, read as stale', () => {
    expect(parseCacheControl('max-age =3600').maxAge).to.equal(0);
    expect(parseCacheControl('max-age= 3600').maxAge).to.equal(0);
  });

  it('§1.2.2: delta-seconds beyond 2^31 are taken as 2^31; leading zeros are fine', () => {
    expect(parseCacheControl('max-age=99999999999').maxAge).to.equal(MAX_DELTA);
    expect(parseCacheControl('max-age=003600').maxAge).to.equal(3600);
  });

  it('§4.2.1: repeated freshness directives keep the most restrictive value', () => {
    expect(parseCacheControl('max-age=1800, max-age=1').maxAge).to.equal(1);
    expect(parseCacheControl(['max-age=1', 'max-age=1800']).maxAge).to.equal(1);
    expect(parseCacheControl('s-maxage=10, s-maxage=oops').sMaxage).to.equal(0);
    expect(parseCacheControl('min-fresh=5, min-fresh=50').minFresh).to.equal(50);
  });

  it('§5.2.2.4: no-cache with a field-name list is qualified, names lower-cased', () => {
    const cc = parseCacheControl('no-cache="Set-Cookie, X-A"');
    expect(cc.noCache).to.equal(false);
    expect(cc.noCacheFields).to.deep.equal(['set-cookie', 'x-a']);
    expect(parseCacheControl('no-cache=a').noCacheFields).to.deep.equal(['a']);
  });

  it('§5.2.2.4: an unqualified no-cache beside a qualified one wins (most restrictive)', () => {
    expect(parseCacheControl('no-cache="a", no-cache').noCache).to.equal(true);
    expect(parseCacheControl('no-cache=""').noCache).to.equal(true);
  });

  it('§5.2.2.7: private with field names is qualified; bare private is not', () => {
    expect(parseCacheControl('private="x-user"').private).to.equal(false);
    expect(parseCacheControl('private="x-user"').privateFields).to.deep.equal(['x-user']);
    expect(parseCacheControl('private').private).to.equal(true);
  });

  it('§5.2.1: request directives: max-stale without value is unlimited, min-fresh, only-if-cached', () => {
    const cc = parseCacheControl('max-stale, min-fresh=20, only-if-cached');
    expect(cc.maxStale).to.equal(Infinity);
    expect(cc.minFresh).to.equal(20);
    expect(cc.onlyIfCached).to.equal(true);
    expect(parseCacheControl('max-stale=30').maxStale).to.equal(30);
    expect(parseCacheControl('max-stale=abc').maxStale).to.equal(undefined);
  });

  it('RFC 5861: stale-while-revalidate and stale-if-error; invalid values are dropped, never extended', () => {
    const cc = parseCacheControl('max-age=1, stale-while-revalidate=30, stale-if-error=60');
    expect(cc.staleWhileRevalidate).to.equal(30);
    expect(cc.staleIfError).to.equal(60);
    expect(parseCacheControl('stale-while-revalidate=x').staleWhileRevalidate).to.equal(undefined);
  });

  it('§5.2.3: unknown extensions are ignored', () => {
    const cc = parseCacheControl('foobar, max-age=3600, community="UCI"');
    expect(cc.maxAge).to.equal(3600);
    expect(cc.private).to.equal(false);
  });
});

describe('cache-control: Pragma (RFC 9111 §5.4)', () => {
  it('Pragma: no-cache counts as no-cache only when Cache-Control is absent', () => {
    expect(requestCacheControl({ pragma: 'no-cache' }).noCache).to.equal(true);
    expect(requestCacheControl({ pragma: 'no-cache' }).source).to.equal('pragma');
    expect(requestCacheControl({ pragma: 'no-cache', 'cache-control': 'max-age=5' }).noCache).to.equal(false);
    expect(requestCacheControl({ pragma: 'foo' }).noCache).to.equal(false);
  });
});

describe('cache-control: targeted fields (RFC 9213)', () => {
  it('§2.1: parses CDN-Cache-Control as a Structured Dictionary', () => {
    const cc = parseTargetedField('max-age=600, must-revalidate, no-cache="a"', 'cdn-cache-control');
    expect(cc?.maxAge).to.equal(600);
    expect(cc?.mustRevalidate).to.equal(true);
    expect(cc?.noCacheFields).to.deep.equal(['a']);
    expect(cc?.targeted).to.equal(true);
  });

  it('§2.1: a parse error or a wrongly typed directive makes the whole field ignored', () => {
    expect(parseTargetedField('max-age=10000, &&&&&', 'cdn-cache-control')).to.equal(undefined);
    expect(parseTargetedField('max-age="10000"', 'cdn-cache-control')).to.equal(undefined);
    expect(parseTargetedField('max-age=1.5', 'cdn-cache-control')).to.equal(undefined);
    expect(parseTargetedField('no-store=1', 'cdn-cache-control')).to.equal(undefined);
    expect(parseTargetedField('', 'cdn-cache-control')).to.equal(undefined);
  });

  it('§2.2: the first valid targeted field overrides Cache-Control entirely', () => {
    const cc = responseCacheControl({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=10000' });
    expect(cc.noStore).to.equal(false);
    expect(cc.maxAge).to.equal(10000);
    expect(cc.source).to.equal('cdn-cache-control');
  });

  it('§2.2: Gatehouse-Cache-Control comes before CDN-Cache-Control in the target list', () => {
    const cc = responseCacheControl({ 'cdn-cache-control': 'max-age=5', 'gatehouse-cache-control': 'max-age=50' });
    expect(cc.maxAge).to.equal(50);
  });

  it('§2.2: an invalid targeted field falls back to Cache-Control', () => {
    const cc = responseCacheControl({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=10000, &&&&&' });
    expect(cc.noStore).to.equal(true);
    expect(cc.source).to.equal('cache-control');
  });

  it('RFC 8941: dictionary keys are lower-case; later duplicates win; parameters are ignored', () => {
    expect(parseSfDictionary('MaX-aGe=3600')).to.equal(undefined);
    expect(parseSfDictionary('a=1, a=2')?.get('a')).to.equal(2);
    expect(parseSfDictionary('a=1;x=y, b')?.get('b')).to.equal(true);
    expect(parseSfDictionary('a=1,')).to.equal(undefined);
    expect(parseSfDictionary('a=(1 2), b=?0, c=:YWJj:, d=tok/x')?.get('b')).to.equal(false);
  });
});
