/** Edge: header names and values as sent, hop-by-hop fields both ways, and connection reuse after errors. */
import { expect } from 'chai';
import { exchange, RawClient, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.js';
import { portOf, startProxy, simpleReverse, type TestProxy } from '../helpers/loopback.js';

describe('edge: header fields', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  let port: number;
  before(async () => {
    origin = await startRecordingOrigin((r) => (r.target.endsWith('/resp')
      ? 'HTTP/1.1 200 OK\r\nX-Obs: caf\xe9\r\nX-Tab: a\tb\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nTrailer: X-T\r\nUpgrade: foo\r\nContent-Length: 0\r\n\r\n'
      : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    proxy = await startProxy({
      ...simpleReverse([origin.url]),
      reverse: [{ routes: [{ match: { path_prefix: '/deny' }, respond: { status: 403, body: 'no' } }, { match: { path_prefix: '/only' }, pool: 'app' }] }],
    });
    port = portOf(proxy.url());
  });
  after(async () => { await proxy.close(); await origin.close(); });
  const lines = () => origin.requests.at(-1)!.headerLines;

  const kept: [string, string][] = [
    ['obs-text bytes in a value', 'X-Obs: caf\xe9'],
    ['every tchar in a name', "X!#$%&'*+.^_`|~: v"],
    ['a tab inside a value', 'X-Tab: a\tb'],
    ['an empty value', 'X-Empty: '],
  ];
  for (const [what, line] of kept) {
    it(`forwards ${what} byte for byte (name lower-cased)`, async () => {
      await exchange(port, `GET /only/k HTTP/1.1\r\nHost: a\r\n${line}\r\nConnection: close\r\n\r\n`);
      const [name, value] = [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()];
      expect(lines()).to.include(`${name.toLowerCase()}: ${value}`);
    });
  }

  it('trims the whitespace around a value', async () => {
    await exchange(port, 'GET /only/w HTTP/1.1\r\nHost: a\r\nX-Ws:    v   \r\nConnection: close\r\n\r\n');
    expect(lines()).to.include('x-ws: v');
  });

  it('never forwards hop-by-hop request fields, nor those Connection names', async () => {
    await exchange(port, 'GET /only/h HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret\r\nX-Secret: s\r\nTE: trailers\r\nKeep-Alive: 5\r\nProxy-Connection: x\r\nProxy-Authorization: Basic eA==\r\nUpgrade: foo\r\nHTTP2-Settings: x\r\n\r\n');
    const names = lines().map((l) => l.slice(0, l.indexOf(':')));
    expect(names).to.not.include.members(['x-secret', 'te', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'upgrade', 'http2-settings']);
  });

  it('never relays hop-by-hop response fields, nor those Connection names; relays obs-text and tabs as sent', async () => {
    const { responses } = await exchange(port, 'GET /only/resp HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const h = responses[0]!.headers;
    expect(h).to.not.have.any.keys('x-hop', 'keep-alive', 'proxy-authenticate', 'trailer', 'upgrade');
    expect([h['x-obs'], h['x-tab']]).to.deep.equal(['caf\xe9', 'a\tb']);
  });
});

describe('edge: connection reuse after errors', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  before(async () => {
    origin = await startRecordingOrigin((r) => (r.target === '/500' ? 'HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nx' : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    proxy = await startProxy({
      reverse: [{ routes: [{ match: { path_prefix: '/deny' }, respond: { status: 403, body: 'no' } }, { match: { path_prefix: '/dead' }, pool: 'dead' }, { match: { path_prefix: '/' }, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: origin.url }] }, dead: { upstreams: [{ url: 'http://127.0.0.1:1' }], retries: 0 } },
    });
  });
  after(async () => { await proxy.close(); await origin.close(); });

  for (const [what, path, status] of [['a route answer (403)', '/deny', 403], ['an upstream 500', '/500', 500], ['an unreachable upstream (502)', '/dead', 502]] as const) {
    it(`keeps the client connection usable after ${what}`, async () => {
      const c = await RawClient.open(portOf(proxy.url()));
      c.send(`GET ${path} HTTP/1.1\r\nHost: a\r\n\r\nGET /fine HTTP/1.1\r\nHost: a\r\n\r\n`);
      const first = await c.response();
      const second = await c.response();
      expect([first?.status, second?.status, second?.body.toString()]).to.deep.equal([status, 200, 'ok']);
      c.close();
    });
  }
});
