/** Edge: forward-mode specifics. `GET https://…` obeys connect_ports; client Forwarded/X-Real-IP are treated like X-Forwarded-For. */
import { expect } from 'chai';
import { exchange, RawClient, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.js';
import type { LookupAll } from '../../src/forward/ssrf-guard.js';
import { portOf, startProxy, simpleReverse, type TestProxy } from '../helpers/loopback.js';

describe('edge: forward mode https targets', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  before(async () => {
    origin = await startRecordingOrigin();
    proxy = await startProxy({ forward: [{ allow_private_destinations: true }] });
  });
  after(async () => { await proxy.close(); await origin.close(); });

  it('refuses GET https:// to a port outside connect_ports (403) without opening any connection', async () => {
    const { responses } = await exchange(portOf(proxy.forwardUrl()), `GET https://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nConnection: close\r\n\r\n`);
    expect(responses.map((r) => r.status)).to.deep.equal([403]);
    expect(responses[0]!.body.toString()).to.include('connect_ports');
    // a request the proxy does forward, after it: had the refused one opened a connection, it would show too
    const after = await exchange(portOf(proxy.forwardUrl()), `GET http://127.0.0.1:${origin.port}/sentinel HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nConnection: close\r\n\r\n`);
    expect(after.responses.map((r) => r.status)).to.deep.equal([200]);
    expect(origin.received).to.have.length(1);
    expect(origin.received[0]!.toString('latin1')).to.match(/^GET \/sentinel /);
  });

  it('still sends GET http:// to any port', async () => {
    const { responses } = await exchange(portOf(proxy.forwardUrl()), `GET http://127.0.0.1:${origin.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nConnection: close\r\n\r\n`);
    expect(responses.map((r) => r.status)).to.deep.equal([200]);
  });
});

describe('edge: Forwarded and X-Real-IP from clients', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });
  const spoof = 'Forwarded: for=1.2.3.4;proto=https\r\nX-Real-IP: 1.2.3.4\r\nX-Forwarded-For: 1.2.3.4\r\n';

  async function seenThrough(cfg: Record<string, unknown>, target: (o: RecordingOrigin) => string, forward = false): Promise<Record<string, string>> {
    const origin = await startRecordingOrigin();
    cleanup.push(origin.close);
    const p = await startProxy(typeof cfg.pools === 'object' || forward ? cfg : { ...cfg, ...simpleReverse([origin.url]) });
    cleanup.push(() => p.close());
    const port = portOf(forward ? p.forwardUrl() : p.url());
    await exchange(port, `GET ${target(origin)} HTTP/1.1\r\nHost: ${forward ? `127.0.0.1:${origin.port}` : 'a'}\r\n${spoof}Connection: close\r\n\r\n`);
    return origin.requests[0]!.headers;
  }

  it('reverse, untrusted peer: replaced by what the proxy saw', async () => {
    const h = await seenThrough({ trusted_proxies: [] }, () => '/x');
    expect([h.forwarded, h['x-real-ip'], h['x-forwarded-for']]).to.deep.equal(['for=127.0.0.1;proto=http', '127.0.0.1', '127.0.0.1']);
  });

  it('reverse, trusted peer: kept, Forwarded extended', async () => {
    const h = await seenThrough({}, () => '/x');
    expect([h.forwarded, h['x-real-ip'], h['x-forwarded-for']]).to.deep.equal(['for=1.2.3.4;proto=https, for=127.0.0.1;proto=http', '1.2.3.4', '1.2.3.4, 127.0.0.1']);
  });

  it('forward with x_forwarded_for off: none of them leaves the proxy', async () => {
    const h = await seenThrough({ forward: [{ allow_private_destinations: true }], trusted_proxies: [] }, (o) => `http://127.0.0.1:${o.port}/x`, true);
    expect(h).to.not.have.any.keys('forwarded', 'x-real-ip', 'x-forwarded-for');
  });

  it('forward with x_forwarded_for on, untrusted peer: replaced', async () => {
    const h = await seenThrough({ forward: [{ allow_private_destinations: true, x_forwarded_for: true }], trusted_proxies: [] }, (o) => `http://127.0.0.1:${o.port}/x`, true);
    expect([h.forwarded, h['x-real-ip'], h['x-forwarded-for']]).to.deep.equal(['for=127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });
});

describe('edge: a request body that fails while the destination is still being resolved', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  let release: () => void = () => {};
  before(async () => {
    origin = await startRecordingOrigin();
    // resolution waits until the test lets it go, so the body breaks while nothing reads it yet
    const lookup: LookupAll = () => new Promise((resolve) => { release = () => resolve([{ address: '127.0.0.1', family: 4 }]); });
    proxy = await startProxy({ forward: [{ allow_private_destinations: true }] }, { forwardLookup: lookup });
  });
  after(async () => {
    release();
    // a late upstream request is caught here too, whenever it came
    try { expect(origin.requests.filter((r) => r.target.endsWith('/x') || r.target.endsWith('/y'))).to.deep.equal([]); } finally { await proxy.close(); await origin.close(); }
  });
  /** A request through the proxy that does reach the origin: sent after a broken one, it shows that one went nowhere. */
  const sentinel = async (path: string) => {
    const { responses } = await exchange(portOf(proxy.forwardUrl()), `GET http://127.0.0.1:${origin.port}${path} HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nConnection: close\r\n\r\n`);
    expect(responses.map((x) => x.status)).to.deep.equal([200]);
  };

  it('a broken chunk: 400, nothing upstream, and the process keeps running', async () => {
    const c = await RawClient.open(portOf(proxy.forwardUrl()));
    c.send(`POST http://slow.test:${origin.port}/x HTTP/1.1\r\nHost: slow.test:${origin.port}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`);
    const r = await c.response();
    expect(r?.status).to.equal(400);
    release();
    await sentinel('/after-x');
    expect(origin.requests).to.have.length(1);
    c.close();
  });

  it('a client gone mid-body: nothing upstream, and the process keeps running', async () => {
    const c = await RawClient.open(portOf(proxy.forwardUrl()));
    c.send(`POST http://slow.test:${origin.port}/y HTTP/1.1\r\nHost: slow.test:${origin.port}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel`);
    await new Promise((res) => setTimeout(res, 50));
    c.socket.resetAndDestroy();
    await new Promise((res) => setTimeout(res, 50));
    release();
    await sentinel('/after-y');
    expect(origin.requests.map((r) => r.target)).to.deep.equal(['/after-x', '/after-y']);
  });
});
