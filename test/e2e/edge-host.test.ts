/** Edge: the Host header on reverse listeners, and client mistakes never counting against an upstream's health. */
import { expect } from 'chai';
import { exchange, RawClient, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.js';
import { portOf, logLine, startProxy, simpleReverse, type TestProxy } from '../helpers/loopback.js';
import { waitFor } from '../helpers/raw-socket.js';

describe('edge: Host on reverse listeners', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  let port: number;
  before(async () => {
    origin = await startRecordingOrigin();
    // one failure would eject (two upstreams, so the cap allows one ejection): any counted client error shows
    proxy = await startProxy(simpleReverse([origin.url, origin.url.replace('127.0.0.1', 'localhost')], { passive: { max_failures: 1, window: '60s', eject: '60s' } }));
    port = portOf(proxy.url());
  });
  after(async () => { await proxy.close(); await origin.close(); });

  const ejected = () => proxy.gateway.pools.get('app')!.upstreams.filter((u) => !u.available).map((u) => u.id);

  const bad: [string, string][] = [
    ['two Host fields', 'Host: a.example\r\nHost: b.example\r\n'],
    ['two Host fields, same value', 'Host: a.example\r\nHost: a.example\r\n'],
    ['no Host on HTTP/1.1', ''],
    ['a space and a slash', 'Host: a b/c\r\n'],
    ['userinfo', 'Host: user@evil.example\r\n'],
    ['a path', 'Host: a.example/x\r\n'],
    ['a query', 'Host: a.example?x\r\n'],
    ['a percent escape', 'Host: a%2eexample\r\n'],
    ['a backslash', 'Host: a\\b\r\n'],
    ['an empty value', 'Host: \r\n'],
    ['a bad port', 'Host: a.example:80x\r\n'],
    ['a port too large', 'Host: a.example:99999\r\n'],
    ['an unclosed IPv6 literal', 'Host: [::1\r\n'],
    ['a bare IPv6 address', 'Host: ::1\r\n'],
    ['two hosts in one value', 'Host: a.example, b.example\r\n'],
  ];
  for (const [what, hostLines] of bad) {
    it(`answers 400 to ${what}, before anything reaches the upstream`, async () => {
      const before = origin.requests.length;
      const { responses, closed } = await exchange(port, `GET /x HTTP/1.1\r\n${hostLines}\r\n`);
      expect(responses.map((r) => r.status)).to.deep.equal([400]);
      expect(responses[0]!.headers['x-request-id']).to.be.a('string');
      expect(closed).to.equal(true);
      expect(origin.requests.length).to.equal(before);
      expect(ejected()).to.deep.equal([]);
    });
  }

  const good: [string, string][] = [
    ['a name with a port', 'a.example:8080'],
    ['a trailing dot', 'a.example.'],
    ['an IPv4 literal', '127.0.0.1:1'],
    ['an IPv6 literal', '[::1]:443'],
    ['upper case', 'A.EXAMPLE'],
    ['an underscore', 'my_host.internal'],
  ];
  for (const [what, host] of good) {
    it(`forwards ${what} verbatim`, async () => {
      const before = origin.requests.length;
      const { responses } = await exchange(port, `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(responses.map((r) => r.status)).to.deep.equal([200]);
      expect(origin.requests.length).to.equal(before + 1);
      expect(origin.requests.at(-1)!.headers.host).to.equal(host);
    });
  }

  it('serves an HTTP/1.0 request without Host', async () => {
    const { responses } = await exchange(port, 'GET /x HTTP/1.0\r\n\r\n');
    expect(responses.map((r) => r.status)).to.deep.equal([200]);
  });

  it('takes the authority of an absolute-form target over the Host fields', async () => {
    const { responses } = await exchange(port, 'GET http://b.example:81/x HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n');
    expect(responses.map((r) => r.status)).to.deep.equal([200]);
    expect(origin.requests.at(-1)!.headers.host).to.equal('b.example:81');
    expect(origin.requests.at(-1)!.target).to.equal('/x');
  });

  it('answers 400 to an absolute-form target with an invalid authority', async () => {
    const before = origin.requests.length;
    const { responses } = await exchange(port, 'GET http://user@evil.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n');
    expect(responses.map((r) => r.status)).to.deep.equal([400]);
    expect(origin.requests.length).to.equal(before);
  });

  it('never ejects an upstream for requests the client got wrong', async () => {
    for (const [, hostLines] of bad) await exchange(port, `GET /x HTTP/1.1\r\n${hostLines}\r\n`);
    // header bytes undici refuses to send, and a body over the limit, are client errors too
    await exchange(port, 'GET /x HTTP/1.1\r\nHost: a\r\nX-Bad: a\x01b\r\n\r\n');
    expect(ejected()).to.deep.equal([]);
  });
});

describe('edge: client errors past the head never count against an upstream', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  let port: number;
  before(async () => {
    origin = await startRecordingOrigin();
    proxy = await startProxy({
      ...simpleReverse([origin.url, origin.url.replace('127.0.0.1', 'localhost')], { passive: { max_failures: 1, window: '60s', eject: '60s' } }),
      reverse: [{ routes: [{ match: {}, pool: 'app' }], limits: { max_body_size: 100 } }],
    });
    port = portOf(proxy.url());
  });
  after(async () => { await proxy.close(); await origin.close(); });
  const ejected = () => proxy.gateway.pools.get('app')!.upstreams.filter((u) => !u.available).map((u) => u.id);

  it('a chunked body over max_body_size is 413 and ejects nothing', async () => {
    const big = 'x'.repeat(150);
    const { responses } = await exchange(port, `POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`);
    expect(responses.map((r) => r.status)).to.deep.equal([413]);
    expect(ejected()).to.deep.equal([]);
  });

  it('a client that leaves in the middle of its body ejects nothing', async () => {
    const c = await RawClient.open(port);
    c.send('POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n\r\nhalf');
    // wait until the head reached the origin, then leave
    await waitFor(() => origin.text().includes('\r\n\r\nhalf'), 15_000, 'the head to reach the origin');
    const posts = () => proxy.logs.filter((l) => l.msg === 'access' && l.method === 'POST');
    const earlier = posts().length;
    c.socket.resetAndDestroy();
    // the proxy is done with the request once it logs it: any ejection would have been decided by then
    await logLine(proxy.logs, (l) => l.msg === 'access' && l.method === 'POST' && posts().indexOf(l) >= earlier);
    expect(ejected()).to.deep.equal([]);
  });
});
