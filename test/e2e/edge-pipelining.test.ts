/** Edge: pipelined requests. Responses leave in request order; after a framing error nothing more is forwarded. */
import { expect } from 'chai';
import { exchange, okReply, RawClient, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.js';
import { portOf, startProxy, simpleReverse, type TestProxy } from '../helpers/loopback.js';
import { waitFor } from '../helpers/raw-socket.js';

const req = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;

describe('edge: pipelining', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  let port: number;
  before(async () => {
    // /slow answers late, so anything after it on the client connection is decided while it is pending
    origin = await startRecordingOrigin((r) => ({ bytes: okReply(`body of ${r.target}`), delayMs: r.target.startsWith('/slow') ? 300 : 0 }));
    proxy = await startProxy(simpleReverse([origin.url]));
    port = portOf(proxy.url());
  });
  after(async () => { await proxy.close(); await origin.close(); });
  const targets = () => origin.requests.map((r) => r.target);
  beforeEach(() => { origin.requests.length = 0; });

  it('answers pipelined requests in order, one response each', async () => {
    const { responses } = await exchange(port, req('/slow1') + req('/b') + req('/slow2') + req('/d', 'Connection: close\r\n'));
    expect(responses.map((r) => r.body.toString())).to.deep.equal(['body of /slow1', 'body of /b', 'body of /slow2', 'body of /d']);
    expect(targets()).to.have.members(['/slow1', '/b', '/slow2', '/d']);
  });

  const framingErrors: [string, string][] = [
    ['an invalid chunk size', 'POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ['Content-Length and Transfer-Encoding together', 'POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['two different Content-Lengths', 'POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx'],
    ['a Content-Length list', 'POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\nxx'],
    ['a signed Content-Length', 'POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx'],
    ['Transfer-Encoding not ending in chunked', 'POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n'],
    ['chunked twice', 'POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a chunk without its CRLF', 'POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n'],
    ['a malformed header line', 'GET /e HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n'],
  ];
  for (const [what, bad] of framingErrors) {
    it(`after ${what}: the pending response comes first, then 400, then the connection closes with nothing more forwarded`, async () => {
      const { responses, closed } = await exchange(port, req('/slow') + bad + req('/after'));
      expect(responses.map((r) => r.status)).to.deep.equal([200, 400]);
      expect(responses[0]!.body.toString()).to.equal('body of /slow');
      expect(closed).to.equal(true);
      expect(targets()).to.deep.equal(['/slow']);
      expect(origin.text()).to.not.include('/after');
    });
  }

  const refusedByProxy: [string, string, number][] = [
    ['a duplicate Host', 'GET /e HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
    ['a bad path escape', 'GET /e%zz HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['HTTP/2.0', 'GET /e HTTP/2.0\r\nHost: a\r\n\r\n', 505],
  ];
  for (const [what, bad, status] of refusedByProxy) {
    it(`after ${what}: ${status} in its place, and no later request is forwarded`, async () => {
      const { responses, closed } = await exchange(port, req('/slow') + bad + req('/after'));
      expect(responses.map((r) => r.status)).to.deep.equal([200, status]);
      expect(closed).to.equal(true);
      expect(targets()).to.deep.equal(['/slow']);
    });
  }

  it('a chunked body that breaks after the head went upstream is answered 400 (not 502), and the connection closes', async () => {
    const c = await RawClient.open(port);
    c.send('POST /stream HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    await waitFor(() => origin.text().includes('hello'), 15_000, 'the first chunk to reach the origin');
    c.send('zz\r\n');
    const r = await c.response();
    expect(r?.status).to.equal(400);
    expect(await c.waitClosed()).to.equal(true);
    c.close();
  });

  it('a request body over the limit (413) ends the connection; the next request is not forwarded', async () => {
    const p = await startProxy({ ...simpleReverse([origin.url]), reverse: [{ routes: [{ match: {}, pool: 'app' }], limits: { max_body_size: 4 } }] });
    try {
      const { responses, closed } = await exchange(portOf(p.url()), req('/slow') + 'POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789' + req('/after'));
      expect(responses.map((r) => r.status)).to.deep.equal([200, 413]);
      expect(closed).to.equal(true);
      expect(targets()).to.deep.equal(['/slow']);
    } finally { await p.close(); }
  });
});
