import { expect } from 'chai';
import { parseCacheControl, responseCacheControl, NO_DIRECTIVES } from '../../../src/cache/cache-control.js';
import {
  ageValue, canServeStaleOnError, correctedInitialAge, currentAge, DEFAULT_FRESHNESS, evaluateReuse, freshnessLifetime,
  isFresh, type FreshnessState,
} from '../../../src/cache/freshness.js';
import type { HeaderMap } from '../../../src/cache/headers.js';
import { formatHttpDate, parseHttpDate } from '../../../src/cache/http-date.js';

const NOW = Date.UTC(2024, 0, 10, 12, 0, 0);
const at = (deltaS: number) => formatHttpDate(NOW + deltaS * 1000);
const life = (status: number, h: HeaderMap) => freshnessLifetime(status, h, responseCacheControl(h), NOW).lifetime;
const state = (cc: string, lifetime: number, initialAge = 0): FreshnessState =>
  ({ cc: parseCacheControl(cc), lifetime, initialAge, responseTime: NOW });
const req = (cc = '') => parseCacheControl(cc);

describe('http-date (RFC 9110 §5.6.7)', () => {
  it('parses IMF-fixdate, rfc850 and asctime, case-insensitively', () => {
    const t = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).to.equal(t);
    expect(parseHttpDate('SUN, 06 NOV 1994 08:49:37 gmt')).to.equal(t);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).to.equal(t);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).to.equal(t);
  });

  it('rejects other zones, two-digit IMF years, missing comma, extra spaces, dashes, dots, 1-digit hours', () => {
    for (const v of ['Thu, 18 Aug 2050 02:01:18 UTC', 'Thu, 18 Aug 50 02:01:18 GMT', 'Thu 18 Aug 2050 02:01:18 GMT',
      'Thu, 18  Aug  2050 02:01:18 GMT', 'Thu, 18-Aug-2050 02:01:18 GMT', 'Thu, 18 Aug 2050 02.01.18 GMT',
      'Thu, 18 Aug 2050 2:01:18 GMT', '0', '']) {
      expect(parseHttpDate(v), v).to.equal(undefined);
    }
  });

  it('rfc850: a two-digit year more than 50 years ahead is in the past century', () => {
    const y = new Date(parseHttpDate('Sunday, 06-Nov-99 08:49:37 GMT', NOW)! * 1000).getUTCFullYear();
    expect(y).to.equal(2099 > 2024 + 50 ? 1999 : 2099);
  });
});

describe('freshness lifetime (RFC 9111 §4.2.1)', () => {
  it('shared cache: s-maxage over max-age over Expires', () => {
    expect(life(200, { 'cache-control': 'max-age=3600, s-maxage=1' })).to.equal(1);
    expect(life(200, { 'cache-control': 's-maxage=3600, max-age=1' })).to.equal(3600);
    expect(life(200, { 'cache-control': 'max-age=3600', expires: at(-10000), date: at(0) })).to.equal(3600);
    expect(life(200, { 'cache-control': 'max-age=0', expires: at(10000), date: at(0) })).to.equal(0);
  });

  it('Expires minus Date; an Expires before Date gives 0', () => {
    expect(life(200, { expires: at(300), date: at(0) })).to.equal(300);
    expect(life(200, { expires: at(300), date: at(400) })).to.equal(0);
  });

  it('§5.3: an invalid Expires (e.g. "0") means already expired', () => {
    expect(life(200, { expires: '0', date: at(0) })).to.equal(0);
    expect(life(200, { expires: 'Thu, 18 Aug 2050 02:01:18 UTC', date: at(0) })).to.equal(0);
  });

  it('RFC 9110 §6.6.1: a missing or invalid Date is replaced by the response time', () => {
    expect(life(200, { expires: at(10), date: 'foo' })).to.equal(10);
    expect(life(200, { expires: at(10) })).to.equal(10);
  });

  it('RFC 9213 §2.2: a targeted field makes Expires ignored', () => {
    expect(life(200, { 'cdn-cache-control': 'no-cache', expires: at(1000), date: at(0) })).to.equal(0);
  });
});

describe('heuristic freshness (RFC 9111 §4.2.2)', () => {
  it('10% of Date - Last-Modified for heuristically cacheable statuses', () => {
    expect(life(200, { date: at(0), 'last-modified': at(-10000) })).to.equal(1000);
    expect(life(404, { date: at(0), 'last-modified': at(-10000) })).to.equal(1000);
  });

  it('capped at heuristicMaxSeconds (24h by default)', () => {
    expect(life(200, { date: at(0), 'last-modified': at(-100 * 86400) })).to.equal(86400);
    const h = { date: at(0), 'last-modified': at(-100 * 86400) };
    expect(freshnessLifetime(200, h, NO_DIRECTIVES, NOW, { ...DEFAULT_FRESHNESS, heuristicMaxSeconds: 60 }).lifetime).to.equal(60);
  });

  it('no heuristic for other statuses unless public', () => {
    for (const s of [201, 202, 302, 403, 502, 503, 504, 599]) {
      expect(life(s, { date: at(0), 'last-modified': at(-86400) }), String(s)).to.equal(0);
    }
    expect(life(599, { date: at(0), 'last-modified': at(-10000), 'cache-control': 'public' })).to.equal(1000);
  });

  it('no Last-Modified, or one in the future: no heuristic lifetime', () => {
    expect(life(200, { date: at(0) })).to.equal(0);
    expect(life(200, { date: at(0), 'last-modified': at(100) })).to.equal(0);
  });
});

describe('age (RFC 9111 §4.2.3, §5.1)', () => {
  it('Age: first member of the first line used; non-numeric, negative or float values are ignored', () => {
    expect(ageValue({ age: '30' })).to.equal(30);
    expect(ageValue({ age: ['30', '0'] })).to.equal(30);
    expect(ageValue({ age: '7200, 0' })).to.equal(7200);
    expect(ageValue({ age: '0, 7200' })).to.equal(0);
    expect(ageValue({ age: '2147483649' })).to.equal(2147483648);
    for (const v of ['abc', '-7200', '7200.0', '1.5', '']) expect(ageValue({ age: v }), v).to.equal(0);
    expect(ageValue({})).to.equal(0);
  });

  it('corrected_initial_age = max(apparent_age, age_value + response_delay)', () => {
    // Date 100 s before the response arrived: apparent age 100.
    expect(correctedInitialAge({ date: at(-100) }, NOW - 2000, NOW)).to.equal(100);
    // Age 15 plus 2 s in flight beats an apparent age of 0 (Date in the future).
    expect(correctedInitialAge({ date: at(10), age: '15' }, NOW - 2000, NOW)).to.equal(17);
  });

  it('current_age adds resident time; a response is fresh while lifetime > current_age', () => {
    const s = state('max-age=10', 10, 5);
    expect(currentAge(s, NOW + 3000)).to.equal(8);
    expect(isFresh(s, NOW + 4999)).to.equal(true);
    expect(isFresh(s, NOW + 5000)).to.equal(false);
  });

  it('§4.2.1: Age greater than max-age is stale on arrival', () => {
    const h = { date: at(0), 'cache-control': 'max-age=10', age: '15' };
    const s: FreshnessState = { cc: responseCacheControl(h), lifetime: life(200, h), initialAge: correctedInitialAge(h, NOW, NOW), responseTime: NOW };
    expect(isFresh(s, NOW)).to.equal(false);
  });
});

describe('reuse decision (RFC 9111 §4, §5.2.1, §5.2.2)', () => {
  it('a fresh response is used with its age and ttl', () => {
    const r = evaluateReuse(state('max-age=100', 100), req(), NOW + 10_000);
    expect(r).to.deep.include({ action: 'use', stale: false });
    expect(r.ttl).to.equal(90);
  });

  it('§5.2.2.4: response no-cache always revalidates, even when fresh', () => {
    expect(evaluateReuse(state('max-age=100, no-cache', 100), req(), NOW)).to.deep.include({ action: 'revalidate', fwd: 'stale' });
  });

  it('§5.2.1.4: request no-cache revalidates a fresh response (fwd=request)', () => {
    expect(evaluateReuse(state('max-age=100', 100), req('no-cache'), NOW)).to.deep.include({ action: 'revalidate', fwd: 'request' });
  });

  it('§5.2.1.1: request max-age smaller than the age refuses a fresh response', () => {
    expect(evaluateReuse(state('max-age=3600', 3600, 1800), req('max-age=600'), NOW)).to.deep.include({ action: 'revalidate', fwd: 'request' });
    expect(evaluateReuse(state('max-age=3600', 3600, 100), req('max-age=600'), NOW).action).to.equal('use');
  });

  it('§5.2.1.3: min-fresh needs that much freshness left', () => {
    expect(evaluateReuse(state('max-age=1500', 1500, 1000), req('min-fresh=1000'), NOW)).to.deep.include({ action: 'revalidate', fwd: 'request' });
    expect(evaluateReuse(state('max-age=1500', 1500, 100), req('min-fresh=1000'), NOW).action).to.equal('use');
  });

  it('§5.2.1.2: max-stale lets the client take a stale response within the limit', () => {
    expect(evaluateReuse(state('max-age=1500', 1500, 2000), req('max-stale=1000'), NOW)).to.deep.include({ action: 'use', stale: true });
    expect(evaluateReuse(state('max-age=1500', 1500, 3000), req('max-stale=1000'), NOW).action).to.equal('revalidate');
    expect(evaluateReuse(state('max-age=1', 1, 99999), req('max-stale'), NOW).action).to.equal('use');
  });

  it('§4.2.4: must-revalidate, proxy-revalidate and s-maxage forbid stale use, even with max-stale', () => {
    for (const cc of ['max-age=1, must-revalidate', 'max-age=1, proxy-revalidate', 's-maxage=1']) {
      expect(evaluateReuse(state(cc, 1, 10), req('max-stale=1000'), NOW).action, cc).to.equal('revalidate');
    }
  });

  it('a stale response without any allowance is revalidated (fwd=stale)', () => {
    expect(evaluateReuse(state('max-age=1', 1, 10), req(), NOW)).to.deep.include({ action: 'revalidate', fwd: 'stale' });
  });

  it('RFC 5861 §3: stale-while-revalidate serves stale within the window and asks for a background refresh', () => {
    expect(evaluateReuse(state('max-age=0, stale-while-revalidate=60', 0, 30), req(), NOW).action).to.equal('use-and-revalidate');
    expect(evaluateReuse(state('max-age=0, stale-while-revalidate=60', 0, 90), req(), NOW).action).to.equal('revalidate');
    expect(evaluateReuse(state('max-age=0, stale-while-revalidate=60, must-revalidate', 0, 30), req(), NOW).action).to.equal('revalidate');
    expect(evaluateReuse(state('max-age=0, stale-while-revalidate=60', 0, 30), req('max-age=100'), NOW).action).to.equal('revalidate');
  });
});

describe('serving stale on upstream failure (RFC 5861 §4, RFC 9111 §4.2.4)', () => {
  const grace = { ...DEFAULT_FRESHNESS, graceSeconds: 300 };

  it('stale-if-error serves stale on 500/502/503/504 and network failures within the window', () => {
    const s = state('max-age=0, stale-if-error=60', 0, 30);
    for (const f of [500, 502, 503, 504, 'network'] as const) expect(canServeStaleOnError(s, req(), NOW, f), String(f)).to.equal(true);
    expect(canServeStaleOnError(s, req(), NOW, 501)).to.equal(false);
  });

  it('stale-if-error stops after its window (and the origin limit beats the configured grace)', () => {
    const s = state('max-age=0, stale-if-error=1', 0, 3);
    expect(canServeStaleOnError(s, req(), NOW, 500, grace)).to.equal(false);
    expect(canServeStaleOnError(s, req(), NOW, 'network', grace)).to.equal(false);
  });

  it('request stale-if-error also allows it', () => {
    expect(canServeStaleOnError(state('max-age=0', 0, 30), req('stale-if-error=60'), NOW, 500)).to.equal(true);
    expect(canServeStaleOnError(state('max-age=0', 0, 30), req('stale-if-error=1'), NOW, 500)).to.equal(false);
  });

  it('grace covers network failures only, and only when configured', () => {
    const s = state('max-age=1', 1, 100);
    expect(canServeStaleOnError(s, req(), NOW, 'network')).to.equal(false);
    expect(canServeStaleOnError(s, req(), NOW, 'network', grace)).to.equal(true);
    expect(canServeStaleOnError(s, req(), NOW, 503, grace)).to.equal(false);
  });

  it('§5.2.2.2: must-revalidate (and no-cache, proxy-revalidate, s-maxage) forbid it', () => {
    for (const cc of ['max-age=1, must-revalidate, stale-if-error=600', 'no-cache, stale-if-error=600',
      'max-age=1, proxy-revalidate, stale-if-error=600', 's-maxage=1, stale-if-error=600']) {
      expect(canServeStaleOnError(state(cc, 1, 10), req(), NOW, 'network', grace), cc).to.equal(false);
    }
  });
});
