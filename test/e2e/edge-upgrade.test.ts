/** Edge: Upgrade. Only a 101 for the protocol asked (with a correct accept key for WebSocket) opens a tunnel. */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { exchange, RawClient, startRecordingOrigin, type RecordingOrigin, type SeenRequest } from '../helpers/raw-http.js';
import { portOf, startProxy, simpleReverse, type TestProxy } from '../helpers/loopback.js';
import { waitFor } from '../helpers/raw-socket.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const acceptFor = (key: string) => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
const wsRequest = (extra = '') =>
  `GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n${extra}\r\n`;

/** An origin that answers upgrades with `reply(req)` and then echoes raw bytes prefixed with `echo:`; plain requests get 200. */
function upgradeOrigin(reply: (req: SeenRequest) => string): Promise<RecordingOrigin> {
  return startRecordingOrigin((req) => {
    if (!req.headers.upgrade) return `HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nplain`;
    return {
      custom: (s) => {
        s.write(reply(req));
        s.on('data', (d: Buffer) => s.write(`echo:${d.toString('latin1')}`));
      },
    };
  });
}

describe('edge: upgrades', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });
  async function setup(reply: (req: SeenRequest) => string, route: Record<string, unknown> = {}): Promise<{ origin: RecordingOrigin; port: number; proxy: TestProxy }> {
    const origin = await upgradeOrigin(reply);
    cleanup.push(origin.close);
    const proxy = await startProxy(simpleReverse([origin.url], {}, route));
    cleanup.push(() => proxy.close());
    return { origin, port: portOf(proxy.url()), proxy };
  }
  const good101 = (req: SeenRequest) =>
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'] ?? '')}\r\n\r\n`;

  it('tunnels a WebSocket after a 101 with the right accept key', async () => {
    const { port } = await setup(good101);
    const c = await RawClient.open(port);
    c.send(wsRequest());
    const r = await c.response();
    expect(r?.status).to.equal(101);
    expect(r?.headers['sec-websocket-accept']).to.equal(acceptFor(KEY));
    c.send('frame');
    await waitFor(() => c.pending.toString().includes('echo:frame'), 15_000, 'the echo');
    expect(c.pending.toString()).to.equal('echo:frame');
    c.close();
  });

  const bad101: [string, (req: SeenRequest) => string][] = [
    ['a WebSocket 101 without Sec-WebSocket-Accept', () => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
    ['a WebSocket 101 with a wrong Sec-WebSocket-Accept', () => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor('other')}\r\n\r\n`],
    ['a 101 for another protocol than the one asked', (req) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'] ?? '')}\r\n\r\n`],
    ['a 101 without Upgrade', (req) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'] ?? '')}\r\n\r\n`],
    ['a 101 naming two protocols', (req) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket, h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(req.headers['sec-websocket-key'] ?? '')}\r\n\r\n`],
  ];
  for (const [what, reply] of bad101) {
    it(`answers 502 to ${what}, and no byte after it reaches the upstream`, async () => {
      const { port, origin } = await setup(reply);
      const c = await RawClient.open(port);
      c.send(wsRequest());
      const r = await c.response();
      expect(r?.status).to.equal(502);
      expect(r?.headers['proxy-status']).to.match(/http_protocol_error/);
      c.send('GET /admin HTTP/1.1\r\nHost: a\r\n\r\n');
      expect(await c.waitClosed()).to.equal(true);
      expect(origin.text()).to.not.include('/admin');
      c.close();
    });
  }

  it('forwards an h2c upgrade request as a plain request without Upgrade and HTTP2-Settings, and keeps the connection', async () => {
    const { port, origin } = await setup(() => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n');
    const c = await RawClient.open(port);
    c.send('GET /h HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n');
    const r = await c.response();
    expect([r?.status, r?.body.toString()]).to.deep.equal([200, 'plain']);
    const seen = origin.requests[0]!;
    expect(seen.headers).to.not.have.any.keys('upgrade', 'http2-settings');
    expect(seen.headers.connection ?? '').to.not.match(/upgrade|http2-settings/i);
    c.send('GET /again HTTP/1.1\r\nHost: a\r\n\r\n');
    expect((await c.response())?.status).to.equal(200);
    expect(origin.requests.map((q) => q.target)).to.deep.equal(['/h', '/again']);
    c.close();
  });

  it('forwards an upgrade offering several protocols as a plain request', async () => {
    const { port, origin } = await setup(good101);
    const { responses } = await exchange(port, 'GET /m HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\nUpgrade: websocket, h2c\r\nSec-WebSocket-Key: x\r\n\r\n');
    expect(responses.map((r) => r.status)).to.deep.equal([200]);
    expect(origin.requests[0]!.headers).to.not.have.any.keys('upgrade');
  });

  it('forwards an upgrade to a protocol no route allows as a plain request', async () => {
    const { port, origin } = await setup(() => 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n');
    const { responses } = await exchange(port, 'GET /f HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, close\r\nUpgrade: foo\r\n\r\n');
    expect(responses.map((r) => r.status)).to.deep.equal([200]);
    expect(origin.requests[0]!.headers).to.not.have.any.keys('upgrade');
  });

  it('tunnels another protocol where the route allows it, and only on a 101 for it', async () => {
    const { port } = await setup((req) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.target === '/bad' ? 'websocket' : 'foo'}\r\nConnection: Upgrade\r\n\r\n`, { upgrades: ['websocket', 'foo'] });
    const c = await RawClient.open(port);
    c.send('GET /good HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n');
    expect((await c.response())?.status).to.equal(101);
    c.close();
    const { responses } = await exchange(port, 'GET /bad HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n');
    expect(responses.map((r) => r.status)).to.deep.equal([502]);
  });

  it('refuses a WebSocket upgrade with 403 on a route that does not allow it', async () => {
    const origin = await upgradeOrigin(good101);
    cleanup.push(origin.close);
    const proxy = await startProxy({
      reverse: [{ routes: [{ match: { path_prefix: '/ws' }, pool: 'app' }, { match: {}, pool: 'app', upgrades: [] }] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
    cleanup.push(() => proxy.close());
    const { responses } = await exchange(portOf(proxy.url()), wsRequest().replace('/ws', '/other'));
    expect(responses.map((r) => r.status)).to.deep.equal([403]);
    expect(origin.requests).to.have.length(0);
  });

  it('answers 502 to a 101 for a request that asked no upgrade, and never reuses that upstream connection', async () => {
    const origin = await startRecordingOrigin((req) => (req.target === '/p'
      ? 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'
      : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    cleanup.push(origin.close);
    const proxy = await startProxy(simpleReverse([origin.url], { retries: 0 }));
    cleanup.push(() => proxy.close());
    const c = await RawClient.open(portOf(proxy.url()));
    c.send('GET /p HTTP/1.1\r\nHost: a\r\n\r\n');
    expect((await c.response())?.status).to.equal(502);
    // the next request is parsed and routed as a request of its own, on a fresh upstream connection
    c.send('GET /next HTTP/1.1\r\nHost: a\r\n\r\n');
    expect((await c.response())?.status).to.equal(200);
    expect(origin.requests.map((q) => [q.target, q.connection])).to.deep.equal([['/p', 0], ['/next', 1]]);
    c.close();
  });
});
