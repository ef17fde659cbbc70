/**
 * Edge: what an upstream sends. Framing the proxy cannot relay faithfully is 502 with the upstream
 * connection closed; transfer codings are relayed intact; interim responses are relayed, never stored;
 * TCP faults become clean errors and never a reused broken connection.
 */
import { expect } from 'chai';
import { createGunzip } from 'node:zlib';
import { gzipSync } from 'node:zlib';
import { exchange, okReply, RawClient, startRecordingOrigin, type RecordingOrigin, type ScriptedReply } from '../helpers/raw-http.js';
import { closeMidChunk, resetAfter, slowDrip, stall } from '../helpers/tcp-faults.js';
import { portOf, startProxy, simpleReverse, type TestProxy } from '../helpers/loopback.js';

const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;

describe('edge: upstream framing and faults', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  let port: number;
  let script: Record<string, ScriptedReply | string> = {};
  before(async () => {
    origin = await startRecordingOrigin((r) => script[r.target] ?? okReply(`plain ${r.target}`));
    proxy = await startProxy({
      ...simpleReverse([origin.url], { retries: 0, response_timeout: '1s', passive: { max_failures: 1000 } }),
      reverse: [{ routes: [{ match: { path_prefix: '/cached' }, pool: 'app', cache: true }, { match: {}, pool: 'app' }] }],
    });
    port = portOf(proxy.url());
  });
  after(async () => { await proxy.close(); await origin.close(); });
  beforeEach(() => { script = {}; });

  /** The request `path` and then `/next` on one client connection; whether /next came on a fresh upstream connection. */
  async function thenNext(path: string, extra = ''): Promise<{ status?: number; body?: Buffer; headers?: Record<string, string>; freshAfter: boolean }> {
    const c = await RawClient.open(port);
    c.send(get(path, extra));
    const r = await c.response({ head: extra.includes('HEAD') });
    c.close();
    const { responses } = await exchange(port, get('/next', 'Connection: close\r\n'));
    expect(responses.map((x) => x.status)).to.deep.equal([200]);
    const mine = origin.requests.filter((q) => q.target === path).at(-1)!;
    const next = origin.requests.filter((q) => q.target === '/next').at(-1)!;
    return { status: r?.status, body: r?.body, headers: r?.headers, freshAfter: mine.connection !== next.connection };
  }

  const refused: [string, string][] = [
    ['chunked, chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['chunked in two fields', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['gzip with Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello'],
    ['chunked with Content-Length', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk'],
    ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok'],
    ['a malformed status line', 'HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok'],
    ['a header with a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok'],
    ['no status line at all (HTTP/0.9 style)', 'hello\r\n'],
    ['an unsolicited 101', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
  ];
  for (const [what, reply] of refused) {
    it(`answers 502 to ${what}, and never reuses that upstream connection`, async () => {
      script['/bad'] = reply;
      const r = await thenNext('/bad');
      expect(r.status).to.equal(502);
      expect(r.headers?.['proxy-status']).to.match(/error=(http_protocol_error|connection_terminated)/);
      expect(r.freshAfter).to.equal(true);
    });
  }

  for (const [what, body] of [['an invalid chunk size', 'zz\r\nhello\r\n0\r\n\r\n'], ['a chunk longer than its size', '2\r\nhello\r\n0\r\n\r\n'], ['a bad chunk extension', '5;\x01\r\nhello\r\n0\r\n\r\n']]) {
    it(`cuts the client connection at ${what} after the head went out, and never reuses the upstream one`, async () => {
      script['/badchunk'] = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
      const r = await thenNext('/badchunk');
      expect(r.status).to.equal(undefined); // no complete response: the client knows it is broken
      expect(r.freshAfter).to.equal(true);
    });
  }

  it('relays gzip, chunked with its coding intact', async () => {
    const coded = gzipSync('hello coded');
    script['/gzc'] = `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${coded.length.toString(16)}\r\n${coded.toString('latin1')}\r\n0\r\n\r\n`;
    const { responses } = await exchange(port, get('/gzc', 'Connection: close\r\n'));
    expect(responses[0]!.headers['transfer-encoding']).to.equal('gzip, chunked');
    expect(responses[0]!.body.equals(coded)).to.equal(true);
    const plain = await new Promise<string>((resolve) => { const z = createGunzip(); let s = ''; z.on('data', (d) => { s += d; }); z.on('end', () => resolve(s)); z.end(responses[0]!.body); });
    expect(plain).to.equal('hello coded');
  });

  it('relays gzip read to the close with its coding intact (never as plain bytes)', async () => {
    script['/gz'] = { bytes: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nGZBYTES', after: 'end' };
    const { responses } = await exchange(port, get('/gz', 'Connection: close\r\n'));
    expect(responses[0]!.headers['transfer-encoding']).to.equal('gzip, chunked');
    expect(responses[0]!.body.toString()).to.equal('GZBYTES');
  });

  it('never stores a transfer-coded body in the cache', async () => {
    script['/cached/gz'] = 'HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';
    await exchange(port, get('/cached/gz', 'Connection: close\r\n'));
    await exchange(port, get('/cached/gz', 'Connection: close\r\n'));
    expect(origin.requests.filter((q) => q.target === '/cached/gz')).to.have.length(2);
  });

  it('drops Content-Length from a 204 and does not read a body after it', async () => {
    script['/204'] = 'HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc';
    const r = await thenNext('/204');
    expect(r.status).to.equal(204);
    expect(r.headers).to.not.have.property('content-length');
    expect(r.freshAfter).to.equal(true);
  });

  it('relays a 304 without a body and keeps the connection', async () => {
    script['/304'] = 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n';
    const r = await thenNext('/304', 'If-None-Match: "x"\r\n');
    expect([r.status, r.body?.length]).to.deep.equal([304, 0]);
  });

  it('answers HEAD with the upstream head and no body', async () => {
    script['/head'] = 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n';
    const c = await RawClient.open(port);
    c.send('HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n');
    const r = await c.response({ head: true });
    expect([r?.status, r?.headers['content-length']]).to.deep.equal([200, '10']);
    c.send(get('/after-head'));
    expect((await c.response())?.body.toString()).to.equal('plain /after-head');
    c.close();
  });

  describe('interim responses (RFC 9110 §15.2)', () => {
    it('relays 103 Early Hints and 102 Processing before the final response, to HTTP/1.1 clients', async () => {
      script['/hints'] = 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
      const c = await RawClient.open(port);
      c.send(get('/hints'));
      const seen = [await c.response(), await c.response(), await c.response()];
      expect(seen.map((r) => r?.status)).to.deep.equal([102, 103, 200]);
      expect(seen[1]!.headers.link).to.equal('</s.css>; rel=preload');
      expect(seen[2]!.headers).to.not.have.property('link');
      c.close();
    });

    it('sends no interim response to an HTTP/1.0 client', async () => {
      script['/hints10'] = 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
      const { responses } = await exchange(port, 'GET /hints10 HTTP/1.0\r\nHost: a\r\n\r\n');
      expect(responses.map((r) => r.status)).to.deep.equal([200]);
    });

    it('never stores an interim response, nor its fields in the final one', async () => {
      script['/cached/hints'] = 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\nX-Interim: 1\r\n\r\nHTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 2\r\n\r\nok';
      const first = await exchange(port, get('/cached/hints', 'Connection: close\r\n'));
      expect(first.responses.map((r) => r.status)).to.deep.equal([103, 200]);
      const second = await exchange(port, get('/cached/hints', 'Connection: close\r\n'));
      expect(second.responses.map((r) => r.status)).to.deep.equal([200]);
      expect(second.responses[0]!.headers['cache-status']).to.match(/hit/);
      expect(second.responses[0]!.headers).to.not.have.any.keys('link', 'x-interim');
    });
  });

  describe('TCP faults', () => {
    it('a reset before the head is complete: 502, and the next request works', async () => {
      script['/reset-head'] = resetAfter('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789', 10);
      expect((await thenNext('/reset-head')).status).to.equal(502);
    });

    it('a reset mid-body: the client sees the response cut short, never a complete one', async () => {
      script['/reset-body'] = resetAfter('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789', 42);
      const { responses, closed, rest } = await exchange(port, get('/reset-body'));
      expect(responses).to.have.length(0); // the head went out, the body never completes
      expect(rest.toString()).to.match(/^HTTP\/1\.1 200/);
      expect(closed).to.equal(true);
    });

    it('a close in the middle of a chunk: the client connection is cut, not ended cleanly', async () => {
      script['/mid-chunk'] = closeMidChunk();
      const { responses, closed } = await exchange(port, get('/mid-chunk'));
      expect(responses).to.have.length(0);
      expect(closed).to.equal(true);
    });

    it('a stalled upstream: 504 after response_timeout', async () => {
      script['/stall'] = stall();
      const r = await thenNext('/stall');
      expect(r.status).to.equal(504);
      expect(r.freshAfter).to.equal(true);
    });

    it('a slow drip within the timeout arrives whole', async () => {
      script['/drip'] = slowDrip(okReply('dripped'), 7, 10);
      const { responses } = await exchange(port, get('/drip', 'Connection: close\r\n'));
      expect(responses.map((r) => r.body.toString())).to.deep.equal(['dripped']);
    });
  });

  it('an unsolicited 100 Continue before the final response is a 502 (undici drops the connection on any 100)', async () => {
    script['/100'] = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const r = await thenNext('/100');
    expect(r.status).to.equal(502);
    expect(r.freshAfter).to.equal(true);
  });
});
