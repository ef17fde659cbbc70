import { expect } from 'chai';
import {
  evaluateConditional, evaluateRange, headUpdate, notModifiedHeaderList, parseEntityTag, revalidationHeaders, sliceBody,
  strongMatch, validatorsMatch, weakMatch,
} from '../../../src/cache/conditional.js';
import { formatHttpDate } from '../../../src/cache/http-date.js';
import { listToMap, stored, T0 } from './helpers.js';

const at = (s: number) => formatHttpDate(T0 + s * 1000);

describe('entity tags (RFC 9110 §8.8.3)', () => {
  it('parses strong and weak tags', () => {
    expect(parseEntityTag('"abc"')).to.deep.equal({ weak: false, opaque: 'abc' });
    expect(parseEntityTag('W/"abc"')).to.deep.equal({ weak: true, opaque: 'abc' });
  });

  it('§8.8.3.2: strong comparison needs both strong; weak comparison ignores weakness', () => {
    const s = parseEntityTag('"x"')!, w = parseEntityTag('W/"x"')!;
    expect(strongMatch(s, s)).to.equal(true);
    expect(strongMatch(s, w)).to.equal(false);
    expect(weakMatch(s, w)).to.equal(true);
  });
});

describe('validation requests (RFC 9111 §4.3.1)', () => {
  it('If-None-Match from ETag and If-Modified-Since from Last-Modified', () => {
    const s = stored({ 'cache-control': 'max-age=1', etag: 'W/"abc"', 'last-modified': at(-3000) });
    expect(revalidationHeaders(s)).to.deep.equal({ 'if-none-match': 'W/"abc"', 'if-modified-since': at(-3000) });
  });

  it('an unquoted stored ETag is sent quoted; an invalid Last-Modified is not sent', () => {
    const s = stored({ 'cache-control': 'max-age=1', etag: 'abc', 'last-modified': 'yesterday' });
    expect(revalidationHeaders(s)).to.deep.equal({ 'if-none-match': '"abc"' });
  });
});

describe("client's conditional requests against a stored response (RFC 9111 §4.3.2)", () => {
  const s = stored({ 'cache-control': 'max-age=100000', etag: '"abcdef"', 'last-modified': at(-5000), date: at(0) });

  it('If-None-Match: a listed tag (weak comparison) or * gives 304', () => {
    expect(evaluateConditional('GET', { 'if-none-match': '"abcdef"' }, s)).to.equal('not-modified');
    expect(evaluateConditional('GET', { 'if-none-match': '"1", W/"abcdef", "2"' }, s)).to.equal('not-modified');
    expect(evaluateConditional('HEAD', { 'if-none-match': '*' }, s)).to.equal('not-modified');
    expect(evaluateConditional('GET', { 'if-none-match': '"other"' }, s)).to.equal('full');
  });

  it('If-None-Match takes precedence over If-Modified-Since', () => {
    expect(evaluateConditional('GET', { 'if-none-match': '"abcdef"', 'if-modified-since': at(-10000) }, s)).to.equal('not-modified');
    expect(evaluateConditional('GET', { 'if-none-match': '"zzz"', 'if-modified-since': at(0) }, s)).to.equal('full');
  });

  it('If-Modified-Since: Last-Modified earlier or equal gives 304; later gives the full response', () => {
    expect(evaluateConditional('GET', { 'if-modified-since': at(-5000) }, s)).to.equal('not-modified');
    expect(evaluateConditional('GET', { 'if-modified-since': at(-2000) }, s)).to.equal('not-modified');
    expect(evaluateConditional('GET', { 'if-modified-since': at(-6000) }, s)).to.equal('full');
  });

  it('If-Modified-Since accepts rfc850 dates; invalid dates are ignored', () => {
    const rfc850 = 'Wednesday, 10-Jan-24 10:36:40 GMT'; // T0 - 5000 s
    expect(evaluateConditional('GET', { 'if-modified-since': rfc850 }, s)).to.equal('not-modified');
    expect(evaluateConditional('GET', { 'if-modified-since': 'garbage' }, s)).to.equal('full');
  });

  it('without Last-Modified, Date is compared', () => {
    const d = stored({ 'cache-control': 'max-age=100', date: at(-100) });
    expect(evaluateConditional('GET', { 'if-modified-since': at(-50) }, d)).to.equal('not-modified');
    expect(evaluateConditional('GET', { 'if-modified-since': at(-150) }, d)).to.equal('full');
  });

  it('only GET/HEAD and only stored 200 responses are evaluated', () => {
    expect(evaluateConditional('POST', { 'if-none-match': '*' }, s)).to.equal('full');
    const r = stored({ 'cache-control': 'max-age=100', etag: '"x"' }, { status: 404 });
    expect(evaluateConditional('GET', { 'if-none-match': '"x"' }, r)).to.equal('full');
  });

  it('RFC 9110 §15.4.5: a generated 304 carries ETag, Date, Cache-Control, Vary... but no Content-Length or body fields', () => {
    const v = stored({ 'cache-control': 'max-age=10', etag: '"a"', vary: 'Accept', 'content-type': 'text/plain', 'content-length': '5' });
    const h = listToMap(notModifiedHeaderList(v));
    expect(h['etag']).to.deep.equal(['"a"']);
    expect(h['vary']).to.deep.equal(['Accept']);
    expect(h['cache-control']).to.deep.equal(['max-age=10']);
    expect(h).to.have.property('date');
    expect(h).to.not.have.property('content-length');
    expect(h).to.not.have.property('content-type');
  });
});

describe('selecting stored responses to freshen (RFC 9111 §4.3.4)', () => {
  const s = stored({ 'cache-control': 'max-age=1', etag: '"v1"', 'last-modified': at(-100) });
  const w = stored({ 'cache-control': 'max-age=1', etag: 'W/"v1"' });

  it('a strong ETag must match strongly', () => {
    expect(validatorsMatch(s, { etag: '"v1"' })).to.equal(true);
    expect(validatorsMatch(s, { etag: '"v2"' })).to.equal(false);
    expect(validatorsMatch(w, { etag: '"v1"' })).to.equal(false);
  });

  it('a weak ETag matches weakly', () => {
    expect(validatorsMatch(w, { etag: 'W/"v1"' })).to.equal(true);
    expect(validatorsMatch(s, { etag: 'W/"v1"' })).to.equal(true);
  });

  it('without ETag, Last-Modified must be equal; without validators the revalidated response is taken', () => {
    expect(validatorsMatch(s, { 'last-modified': at(-100) })).to.equal(true);
    expect(validatorsMatch(s, { 'last-modified': at(-50) })).to.equal(false);
    expect(validatorsMatch(s, {})).to.equal(true);
  });

  it('§4.3.5: a HEAD 200 updates when validators and Content-Length match, else invalidates', () => {
    expect(headUpdate(s, 200, { etag: '"v1"', 'content-length': '5' })).to.equal('update');
    expect(headUpdate(s, 200, { etag: '"v2"' })).to.equal('invalidate');
    expect(headUpdate(s, 200, { etag: '"v1"', 'content-length': '6' })).to.equal('invalidate');
    expect(headUpdate(s, 200, { 'last-modified': at(-1) })).to.equal('invalidate');
    expect(headUpdate(s, 404, {})).to.equal('ignore');
  });
});

describe('byte ranges from a stored complete response (RFC 9110 §14)', () => {
  const s = stored({ 'cache-control': 'max-age=3600', etag: '"e"', 'last-modified': at(-100) }, { body: [Buffer.from('0123'), Buffer.from('4567890')] });

  it('byte-range-spec, open-ended and suffix ranges', () => {
    expect(evaluateRange('GET', { range: 'bytes=0-1' }, s)).to.deep.equal({ start: 0, end: 1 });
    expect(evaluateRange('GET', { range: 'bytes=1-' }, s)).to.deep.equal({ start: 1, end: 10 });
    expect(evaluateRange('GET', { range: 'bytes=-1' }, s)).to.deep.equal({ start: 10, end: 10 });
    expect(evaluateRange('GET', { range: 'bytes=5-100' }, s)).to.deep.equal({ start: 5, end: 10 });
  });

  it('unsatisfiable ranges give 416; multiple ranges, other units and invalid specs are ignored', () => {
    expect(evaluateRange('GET', { range: 'bytes=11-' }, s)).to.equal('unsatisfiable');
    expect(evaluateRange('GET', { range: 'bytes=-0' }, s)).to.equal('unsatisfiable');
    expect(evaluateRange('GET', { range: 'bytes=0-1,3-4' }, s)).to.equal(undefined);
    expect(evaluateRange('GET', { range: 'items=0-1' }, s)).to.equal(undefined);
    expect(evaluateRange('GET', { range: 'bytes=5-2' }, s)).to.equal(undefined);
    expect(evaluateRange('HEAD', { range: 'bytes=0-1' }, s)).to.equal(undefined);
  });

  it('§13.1.5: If-Range must match strongly (ETag) or exactly (date), else the full response', () => {
    expect(evaluateRange('GET', { range: 'bytes=0-1', 'if-range': '"e"' }, s)).to.deep.equal({ start: 0, end: 1 });
    expect(evaluateRange('GET', { range: 'bytes=0-1', 'if-range': 'W/"e"' }, s)).to.equal(undefined);
    expect(evaluateRange('GET', { range: 'bytes=0-1', 'if-range': at(-100) }, s)).to.deep.equal({ start: 0, end: 1 });
    expect(evaluateRange('GET', { range: 'bytes=0-1', 'if-range': at(-99) }, s)).to.equal(undefined);
  });

  it('slices chunked bodies without copying', () => {
    const parts = sliceBody(s.body, 2, 6);
    expect(Buffer.concat(parts).toString()).to.equal('23456');
    expect(parts[0]!.buffer).to.equal(s.body[0]!.buffer);
  });
});
