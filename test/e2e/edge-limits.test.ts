/** Edge: limits. Trailers count against the header limits; CONNECT on a reverse listener gets an answer. */
import { expect } from 'chai';
import { exchange, RawClient, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.js';
import { portOf, startProxy, simpleReverse, type TestProxy } from '../helpers/loopback.js';

const chunkedWithTrailers = (trailers: string) =>
  `POST /t HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n${trailers}\r\n`;

describe('edge: limits', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  let port: number;
  before(async () => {
    origin = await startRecordingOrigin();
    proxy = await startProxy({ ...simpleReverse([origin.url], { passive: { max_failures: 1 } }), limits: { max_header_size: '8KB', max_headers: 50 } });
    port = portOf(proxy.url());
  });
  after(async () => { await proxy.close(); await origin.close(); });

  it('accepts a few trailers', async () => {
    const { responses } = await exchange(port, chunkedWithTrailers('X-T1: a\r\nX-T2: b\r\n'));
    expect(responses.map((r) => r.status)).to.deep.equal([200]);
  });

  it('answers 431 to more trailer fields than max_headers, and aborts what went upstream', async () => {
    const many = Array.from({ length: 150 }, (_, i) => `X-T${i}: v\r\n`).join('');
    const { responses, closed } = await exchange(port, chunkedWithTrailers(many));
    expect(responses.map((r) => r.status)).to.deep.equal([431]);
    expect(closed).to.equal(true);
  });

  it('answers 431 to a trailer section over max_header_size, and closes', async () => {
    const { responses, closed } = await exchange(port, chunkedWithTrailers(`X-Big: ${'x'.repeat(20_000)}\r\n`));
    expect(responses.map((r) => r.status)).to.deep.equal([431]);
    expect(closed).to.equal(true);
  });

  it('answers 431 to more header fields than max_headers, before anything goes upstream', async () => {
    const before = origin.requests.length;
    const many = Array.from({ length: 60 }, (_, i) => `X-H${i}: v\r\n`).join('');
    const { responses } = await exchange(port, `GET /h HTTP/1.1\r\nHost: a\r\n${many}\r\n`);
    expect(responses.map((r) => r.status)).to.deep.equal([431]);
    expect(origin.requests.length).to.equal(before);
  });

  it('counts none of this against the upstream', async () => {
    expect(proxy.gateway.pools.get('app')!.upstreams.every((u) => u.available)).to.equal(true);
  });

  it('answers CONNECT on a reverse listener with 405 and closes', async () => {
    const c = await RawClient.open(port);
    c.send('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    const r = await c.response();
    expect(r?.status).to.equal(405);
    expect(r?.headers['x-request-id']).to.be.a('string');
    expect(await c.waitClosed()).to.equal(true);
    c.close();
  });
});
