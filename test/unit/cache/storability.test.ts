import { expect } from 'chai';
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderMap } from '../../../src/cache/headers.js';
import { formatHttpDate } from '../../../src/cache/http-date.js';
import { DEFAULT_STORAGE, isCompleteBody, isStorable } from '../../../src/cache/storability.js';

const now = Date.now();
const at = (s: number) => formatHttpDate(now + s * 1000);
const store = (res: HeaderMap, status = 200, req: HeaderMap = {}, method = 'GET') => isStorable(method, req, status, res);
const reason = (v: ReturnType<typeof isStorable>) => (v.ok ? 'ok' : v.reason);

describe('storability (RFC 9111 §3)', () => {
  it('stores a GET 200 with max-age', () => {
    expect(reason(store({ 'cache-control': 'max-age=60' }))).to.equal('ok');
  });

  it('§3: only understood methods; HEAD, PUT, DELETE responses are not stored', () => {
    for (const m of ['HEAD', 'PUT', 'DELETE', 'OPTIONS']) expect(reason(store({ 'cache-control': 'max-age=60' }, 200, {}, m)), m).to.equal('method');
  });

  it('RFC 9110 §9.3.3: a POST response with explicit freshness and Content-Location = target is stored for GET', () => {
    const v = isStorable('POST', {}, 200, { expires: at(3600), date: at(0), 'content-location': '/a' }, DEFAULT_STORAGE, 'http://h/a');
    expect(v.ok && v.storeAs).to.equal('http://h/a');
    expect(reason(isStorable('POST', {}, 200, { expires: at(3600), 'content-location': '/b' }, DEFAULT_STORAGE, 'http://h/a'))).to.equal('method');
    expect(reason(isStorable('POST', {}, 200, { 'content-location': '/a' }, DEFAULT_STORAGE, 'http://h/a'))).to.equal('method');
  });

  it('§5.2.2.5: response no-store (any case) is not stored, even with max-age and Expires', () => {
    expect(reason(store({ 'cache-control': 'No-StOrE' }))).to.equal('no-store');
    expect(reason(store({ 'cache-control': 'max-age=10000, no-store', expires: at(10000), date: at(0) }))).to.equal('no-store');
  });

  it('§5.2.1.5: request no-store prevents storing the response', () => {
    expect(reason(store({ 'cache-control': 'max-age=60' }, 200, { 'cache-control': 'no-store' }))).to.equal('request-no-store');
  });

  it('§5.2.2.3: must-understand overrides no-store for understood status codes only', () => {
    expect(reason(store({ 'cache-control': 'max-age=60, no-store, must-understand' }))).to.equal('ok');
    expect(reason(store({ 'cache-control': 'max-age=60, no-store, must-understand' }, 299))).to.equal('must-understand');
  });

  it('§5.2.2.7: a shared cache does not store private; private="f" only strips f', () => {
    expect(reason(store({ 'cache-control': 'private, max-age=3600' }))).to.equal('private');
    const v = store({ 'cache-control': 'private="x-user", max-age=3600' });
    expect(v.ok && v.strip).to.deep.equal(['x-user']);
  });

  it('§5.2.2.4: no-cache="a, b" stores without those fields', () => {
    const v = store({ 'cache-control': 'no-cache="a, b", max-age=3600' });
    expect(v.ok && v.strip).to.deep.equal(['a', 'b']);
  });

  it('§3.5: not with Authorization unless public, s-maxage or must-revalidate', () => {
    const auth = { authorization: 'FOO' };
    expect(reason(store({ expires: at(3600), date: at(0) }, 200, auth))).to.equal('authorization');
    for (const cc of ['max-age=3600, public', 's-maxage=3600', 'max-age=3600, must-revalidate']) {
      expect(reason(store({ 'cache-control': cc }, 200, auth)), cc).to.equal('ok');
    }
  });

  it('§4.1: Vary: * (in any position) is not stored', () => {
    for (const v of ['*', '*, *', ', *', 'Foo, *', ['', '*']]) expect(reason(store({ 'cache-control': 'max-age=60', vary: v })), String(v)).to.equal('vary-star');
  });

  it('§3: status codes — 206 not stored (no ranges), 304 and 1xx never', () => {
    expect(reason(store({ 'cache-control': 'max-age=60', 'content-range': 'bytes 0-4/10' }, 206))).to.equal('partial');
    expect(reason(store({ 'cache-control': 'max-age=60' }, 304))).to.equal('status');
    expect(reason(store({ 'cache-control': 'max-age=60' }, 101))).to.equal('status');
  });

  it('§3: any final status is stored with explicit freshness', () => {
    for (const s of [200, 203, 204, 299, 301, 302, 303, 307, 308, 400, 404, 410, 499, 500, 502, 503, 504, 599]) {
      expect(reason(store({ 'cache-control': 'max-age=100000' }, s)), String(s)).to.equal('ok');
    }
  });

  it('§4.2.2: without explicit freshness only heuristically cacheable statuses (or public) are stored', () => {
    const lm = { 'last-modified': at(-86400), date: at(0) };
    for (const s of [200, 203, 204, 404, 405, 410, 414, 501]) expect(reason(store(lm, s)), String(s)).to.equal('ok');
    for (const s of [201, 202, 403, 502, 503, 504, 599]) expect(reason(store(lm, s)), String(s)).to.equal('no-freshness');
    expect(reason(store({ ...lm, 'cache-control': 'public' }, 599))).to.equal('ok');
  });

  it('a response that could never be reused (no lifetime, no validator) is not stored', () => {
    expect(reason(store({}))).to.equal('no-freshness');
    expect(reason(store({ 'cache-control': 'max-age=0' }))).to.equal('no-freshness');
    expect(reason(store({ 'cache-control': 'no-cache', etag: '"a"' }))).to.equal('ok');
    expect(reason(store({ 'cache-control': 'max-age=0, stale-if-error=60' }))).to.equal('ok');
  });

  it('RFC 9213: CDN-Cache-Control max-age makes a Cache-Control: no-store response storable', () => {
    expect(reason(store({ 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=10000' }))).to.equal('ok');
    expect(reason(store({ 'cache-control': 'max-age=10000', 'cdn-cache-control': 'no-store' }))).to.equal('no-store');
    expect(reason(store({ 'cache-control': 'max-age=10000', 'cdn-cache-control': 'private' }))).to.equal('private');
  });

  it('Set-Cookie policy: stored without the cookie when freshness is explicit; not stored on heuristics alone', () => {
    const v = store({ 'cache-control': 'max-age=3600', 'set-cookie': ['a=b'] });
    expect(v.ok && v.strip).to.include.members(['set-cookie', 'set-cookie2']);
    expect(reason(store({ 'last-modified': at(-86400), date: at(0), 'set-cookie': ['a=b'] }))).to.equal('set-cookie');
    const keep = isStorable('GET', {}, 200, { 'cache-control': 'max-age=3600', 'set-cookie': ['a=b'] }, { ...DEFAULT_STORAGE, setCookie: 'store' });
    expect(keep.ok && keep.strip).to.deep.equal([]);
  });

  it("accepts node:http's IncomingHttpHeaders as they come", () => {
    const req: IncomingHttpHeaders = { host: 'h' };
    const res: IncomingHttpHeaders = { 'cache-control': 'max-age=5', 'set-cookie': ['a=b', 'c=d'] };
    expect(reason(isStorable('GET', req, 200, res))).to.equal('ok');
  });

  it('a truncated body (fewer bytes than Content-Length) is detected', () => {
    expect(isCompleteBody({ 'content-length': '10' }, 10)).to.equal(true);
    expect(isCompleteBody({ 'content-length': '10' }, 7)).to.equal(false);
    expect(isCompleteBody({}, 7)).to.equal(true);
  });
});
