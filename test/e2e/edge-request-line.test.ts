/** Edge: the request line. HTTP/1.x only; HTTP/0.9 and anything the parser reads loosely never reach an upstream. */
import { expect } from 'chai';
import { exchange, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.js';
import { portOf, startProxy, simpleReverse, type TestProxy } from '../helpers/loopback.js';

describe('edge: request line and HTTP version', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  let reversePort: number;
  let forwardPort: number;
  before(async () => {
    origin = await startRecordingOrigin();
    proxy = await startProxy({ ...simpleReverse([origin.url]), forward: [{ allow_private_destinations: true }] });
    reversePort = portOf(proxy.url());
    forwardPort = portOf(proxy.forwardUrl());
  });
  after(async () => { await proxy.close(); await origin.close(); });

  const refused: [string, string, number][] = [
    ['no version, a header smuggled into the target', 'GET /x\nX-Injected: 1 HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['HTTP/0.9 spelled out', 'GET /x HTTP/0.9\r\nHost: a\r\n\r\n', 400],
    ['a bare HTTP/0.9 line', 'GET /x\r\n\r\n', 400],
    ['HTTP/2.0 in an HTTP/1 request line', 'GET /x HTTP/2.0\r\nHost: a\r\n\r\n', 505],
    ['HTTP/3.0', 'GET /x HTTP/3.0\r\nHost: a\r\n\r\n', 400],
    ['the h2 preface (no cleartext h2 here)', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
    ['bare LF line ends', 'GET /x HTTP/1.1\nHost: a\n\n', 400],
    ['a lower-case method', 'get /x HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a lower-case protocol name', 'GET /x http/1.1\r\nHost: a\r\n\r\n', 400],
    ['trailing space after the version', 'GET /x HTTP/1.1 \r\nHost: a\r\n\r\n', 400],
    ['a two-digit minor version', 'GET /x HTTP/1.10\r\nHost: a\r\n\r\n', 400],
    ['a space inside the target', 'GET /x y HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a NUL in the target', 'GET /x\x00y HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a fragment in the target', 'GET /x#y HTTP/1.1\r\nHost: a\r\n\r\n', 400],
    ['a space before the first header', 'GET /x HTTP/1.1\r\n Host: a\r\n\r\n', 400],
    ['a space before the colon', 'GET /x HTTP/1.1\r\nHost : a\r\n\r\n', 400],
    ['a header name with a control byte', 'GET /x HTTP/1.1\r\nHost: a\r\nX\x01Y: 1\r\n\r\n', 400],
    ['a header value with a NUL', 'GET /x HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n', 400],
    ['a header value with a bare CR', 'GET /x HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 400],
    ['an obsolete line folding', 'GET /x HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n', 400],
    ['a header line without a colon', 'GET /x HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n', 400],
  ];
  for (const [what, bytes, status] of refused) {
    for (const mode of ['reverse', 'forward'] as const) {
      it(`${mode}: ${status} and close for ${what}; nothing goes upstream`, async () => {
        const before = origin.requests.length;
        const text = mode === 'forward' ? bytes.replace(/ \/x/, ` http://127.0.0.1:${origin.port}/x`) : bytes;
        const { responses, closed } = await exchange(mode === 'reverse' ? reversePort : forwardPort, text);
        expect(responses.map((r) => r.status)).to.deep.equal([status]);
        expect(responses[0]!.headers['x-request-id']).to.be.a('string');
        expect(closed).to.equal(true);
        expect(origin.requests.length).to.equal(before);
        expect(origin.text()).to.not.include('njected');
      });
    }
  }

  it('serves HTTP/1.0 and answers in kind, closing after the response', async () => {
    const { responses, closed } = await exchange(reversePort, 'GET /x HTTP/1.0\r\nHost: a\r\n\r\n');
    expect(responses.map((r) => r.status)).to.deep.equal([200]);
    expect(closed).to.equal(true);
  });

  it('forward: CONNECT with HTTP/2.0 is 505', async () => {
    const { responses, closed } = await exchange(forwardPort, `CONNECT 127.0.0.1:${origin.port} HTTP/2.0\r\nHost: 127.0.0.1:${origin.port}\r\n\r\n`);
    expect(responses.map((r) => r.status)).to.deep.equal([505]);
    expect(closed).to.equal(true);
  });
});
