import { expect } from 'chai';
import { h2RequestView } from '../../../src/core/h2-compat.js';

const pseudo = (authority?: string): string[] =>
  [':method', 'GET', ':scheme', 'https', ...(authority === undefined ? [] : [':authority', authority]), ':path', '/p'];

describe('h2RequestView: an HTTP/2 header list as the HTTP/1.1 request the stages read', () => {
  it(':authority becomes the one Host, pseudo-header fields go, cookie crumbs are joined', () => {
    const view = h2RequestView([...pseudo('a.test:8443'), 'cookie', 'a=1', 'x-y', 'z', 'cookie', 'b=2']);
    expect(view).to.deep.equal({
      headers: { host: 'a.test:8443', 'x-y': 'z', cookie: 'a=1; b=2' },
      rawHeaders: ['host', 'a.test:8443', 'x-y', 'z', 'cookie', 'a=1; b=2'],
    });
  });

  it('takes Host when there is no :authority, and accepts a Host equal to it', () => {
    expect((h2RequestView([...pseudo(), 'host', 'b.test']) as { headers: Record<string, string> }).headers.host).to.equal('b.test');
    expect(h2RequestView([...pseudo('b.test'), 'host', 'b.test'])).to.not.be.a('string');
  });

  it('repeated fields are joined with a comma', () => {
    const view = h2RequestView([...pseudo('a.test'), 'accept', 'a', 'accept', 'b']) as { headers: Record<string, unknown> };
    expect(view.headers.accept).to.equal('a, b');
  });

  for (const [why, list] of [
    ['connection-specific field', [...pseudo('a.test'), 'connection', 'close']],
    ['connection-specific field', [...pseudo('a.test'), 'transfer-encoding', 'chunked']],
    ['connection-specific field', [...pseudo('a.test'), 'upgrade', 'h2c']],
    ['connection-specific field', [...pseudo('a.test'), 'http2-settings', 'AAMAAABkAAQAAP__']],
    ['te other than', [...pseudo('a.test'), 'te', 'gzip']],
    ['upper-case field name', [...pseudo('a.test'), 'X-A', '1']],
    ['host differs', [...pseudo('a.test'), 'host', 'evil.test']],
    ['more than one host', [...pseudo(), 'host', 'a.test', 'host', 'b.test']],
    ['missing :authority and host', pseudo()],
    ['not allowed in a request', [...pseudo('a.test'), ':status', '200']],
    ['repeated', [...pseudo('a.test'), ':path', '/again']],
    ['missing :method', [':scheme', 'https', ':authority', 'a.test', ':path', '/']],
    ['missing :path', [':method', 'GET', ':scheme', 'https', ':authority', 'a.test']],
  ] as [string, string[]][]) {
    it(`refuses: ${why} (${list.slice(-2).join(': ')})`, () => {
      expect(h2RequestView(list)).to.be.a('string').and.include(why);
    });
  }

  it('accepts te: trailers and CONNECT without :path', () => {
    expect(h2RequestView([...pseudo('a.test'), 'te', 'trailers'])).to.not.be.a('string');
    expect(h2RequestView([':method', 'CONNECT', ':authority', 'a.test:443'])).to.not.be.a('string');
  });
});
