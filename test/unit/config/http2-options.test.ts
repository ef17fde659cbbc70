import { expect } from 'chai';
import { buildConfig } from '../../../src/config/load.js';

const withHttp2 = (http2: unknown) => buildConfig({
  reverse: [{ listen: '127.0.0.1:0', ...(http2 === undefined ? {} : { http2 }), routes: [{ respond: { status: 200, body: '' } }] }],
}, { env: {} }).reverse[0]!.http2;

describe('config: reverse[].http2', () => {
  it('is on with safe defaults unless set', () => {
    expect(withHttp2(undefined)).to.deep.equal({
      cleartext: false, max_concurrent_streams: 100, max_resets: 200, resets_per_second: 50, max_pings: 100, max_settings: 100,
    });
    expect(withHttp2(true)).to.deep.equal(withHttp2(undefined));
  });

  it('false turns it off; an object overrides key by key', () => {
    expect(withHttp2(false)).to.equal(false);
    const own = withHttp2({ cleartext: true, max_concurrent_streams: 8 }) as { cleartext: boolean; max_concurrent_streams: number; max_pings: number };
    expect([own.cleartext, own.max_concurrent_streams, own.max_pings]).to.deep.equal([true, 8, 100]);
  });

  it('names the key of a bad value', () => {
    expect(() => withHttp2({ max_streams: 8 })).to.throw(/reverse\[0\]\.http2/);
    expect(() => withHttp2('yes')).to.throw(/reverse\[0\]\.http2: must be false, true or an object/);
  });
});
