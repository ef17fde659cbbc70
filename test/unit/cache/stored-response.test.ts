import { expect } from 'chai';
import { evaluateReuse } from '../../../src/cache/freshness.js';
import { NO_DIRECTIVES } from '../../../src/cache/cache-control.js';
import { formatHttpDate } from '../../../src/cache/http-date.js';
import { freshen } from '../../../src/cache/stored-response.js';
import { listToMap, stored, T0 } from './helpers.js';

const at = (s: number) => formatHttpDate(T0 + s * 1000);

describe('stored response: headers kept (RFC 9111 §3.1)', () => {
  it('drops hop-by-hop, Connection-listed and proxy-specific fields; keeps unknown fields', () => {
    const s = stored({
      'cache-control': 'max-age=3600', connection: 'a, b', a: '1', b: '2', c: '3', 'keep-alive': 'timeout=5',
      'transfer-encoding': 'chunked', upgrade: 'h2c', 'proxy-authenticate': 'Basic', 'proxy-connection': 'x', te: 'trailers',
      'x-frame-options': 'deny', 'www-authenticate': 'Basic',
    });
    expect(Object.keys(s.headers)).to.have.members(['cache-control', 'c', 'x-frame-options', 'www-authenticate', 'date']);
  });

  it('§5.2.2.4 / §5.2.2.7: no-cache and private field lists are not stored', () => {
    const s = stored({ 'cache-control': 'no-cache="a", private="b", max-age=3600', a: '1', b: '2', c: '3' });
    expect(s.headers).to.not.have.any.keys('a', 'b');
    expect(s.headers['c']).to.equal('3');
  });

  it('Set-Cookie is not stored (policy strip)', () => {
    const s = stored({ 'cache-control': 'max-age=3600', 'set-cookie': ['a=b'] });
    expect(s.headers).to.not.have.property('set-cookie');
  });

  it('the header list leaves out Age and targeted fields, adds Content-Length and a missing Date', () => {
    const s = stored({ 'cache-control': 'max-age=3600', 'cdn-cache-control': 'max-age=60', age: '10', 'content-type': 'text/plain' }, { body: 'hello!' });
    const h = listToMap(s.headerList);
    expect(h).to.not.have.any.keys('age', 'cdn-cache-control');
    expect(h['content-length']).to.deep.equal(['6']);
    expect(h['date']).to.deep.equal([formatHttpDate(T0)]);
    expect(s.cc.source).to.equal('cdn-cache-control');
    expect(s.lifetime).to.equal(60);
    expect(s.initialAge).to.equal(10);
  });

  it('the size charged covers body, headers and a fixed overhead', () => {
    const small = stored({ 'cache-control': 'max-age=1' }, { body: 'x' });
    const big = stored({ 'cache-control': 'max-age=1' }, { body: 'x'.repeat(10_000) });
    expect(big.size - small.size).to.equal(9_999);
    expect(small.size).to.be.greaterThan(500);
  });

  it('§4.1: the secondary key comes from the request that produced the response', () => {
    const a = stored({ 'cache-control': 'max-age=1', vary: 'Foo' }, { reqHeaders: { foo: '1' } });
    const b = stored({ 'cache-control': 'max-age=1', vary: 'Foo' }, { reqHeaders: { foo: '2' } });
    expect(a.vary).to.deep.equal(['foo']);
    expect(a.varyKey).to.not.equal(b.varyKey);
  });
});

describe('freshening with a 304 (RFC 9111 §3.2, §4.3.4)', () => {
  const s = stored({ 'cache-control': 'max-age=1', etag: '"v1"', 'test-header': 'A', 'content-type': 'text/plain', date: at(0) },
    { body: 'hello' });
  const later = T0 + 5000;

  it('replaces stored fields with those of the 304 and keeps the others', () => {
    const f = freshen(s, { headers: { 'cache-control': 'max-age=3600', etag: '"v1"', 'test-header': 'B', date: at(5) }, requestTime: later, responseTime: later });
    expect(f.stored?.headers['test-header']).to.equal('B');
    expect(f.stored?.headers['content-type']).to.equal('text/plain');
    expect(f.stored?.lifetime).to.equal(3600);
    expect(listToMap(f.headerList)['test-header']).to.deep.equal(['B']);
  });

  it('restarts the age: a stale entry is fresh again after a 304', () => {
    expect(evaluateReuse(s, NO_DIRECTIVES, later).action).to.equal('revalidate');
    const f = freshen(s, { headers: { 'cache-control': 'max-age=3600', date: at(5) }, requestTime: later, responseTime: later });
    expect(evaluateReuse(f.stored!, NO_DIRECTIVES, later + 1000).action).to.equal('use');
  });

  it('a 304 without Date gets the time received, so the old Date does not age it', () => {
    const f = freshen(s, { headers: { 'cache-control': 'max-age=10' }, requestTime: T0 + 100_000, responseTime: T0 + 100_000 });
    expect(f.stored?.initialAge).to.equal(0);
  });

  it('never takes Content-Length, Content-Encoding, hop-by-hop or Connection-listed fields from the 304', () => {
    const f = freshen(s, {
      headers: { 'content-length': '99', 'content-encoding': 'gzip', connection: 'x-a', 'x-a': '1', 'keep-alive': 'timeout=1', date: at(5) },
      requestTime: later, responseTime: later,
    });
    const h = listToMap(f.stored!.headerList);
    expect(h['content-length']).to.deep.equal(['5']);
    expect(f.stored!.headers).to.not.have.any.keys('content-encoding', 'x-a', 'keep-alive');
  });

  it('the Set-Cookie of a 304 goes to the current client only', () => {
    const f = freshen(s, { headers: { 'set-cookie': ['a=c'], date: at(5) }, requestTime: later, responseTime: later });
    expect(listToMap(f.headerList)['set-cookie']).to.deep.equal(['a=c']);
    expect(f.stored!.headers).to.not.have.property('set-cookie');
  });

  it('a 304 that adds no-store or private makes the entry unstorable', () => {
    expect(freshen(s, { headers: { 'cache-control': 'no-store' }, requestTime: later, responseTime: later }).stored).to.equal(undefined);
    expect(freshen(s, { headers: { 'cache-control': 'private' }, requestTime: later, responseTime: later }).stored).to.equal(undefined);
  });

  it('the body is shared, not copied', () => {
    const f = freshen(s, { headers: { date: at(5) }, requestTime: later, responseTime: later });
    expect(f.stored!.body[0]).to.equal(s.body[0]);
  });
});
