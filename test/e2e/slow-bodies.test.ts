import { expect } from 'chai';
import type { Socket } from 'node:net';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { closesWithin, getWithin, openSocket } from '../helpers/raw-socket.js';

describe('slow request bodies', function () {
  this.timeout(30_000);
  const cleanup: (() => Promise<void> | void)[] = [];
  /** One byte every 300 ms until the socket closes: never a long gap, but a few bytes a second. */
  const dripBytes = (socket: Socket) => {
    const drip = setInterval(() => { if (!socket.destroyed) socket.write('x'); }, 300);
    cleanup.push(() => clearInterval(drip));
  };
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

  /** An origin that reads the whole body and answers with its length. */
  async function countingOrigin(): Promise<Origin> {
    const o = await startOrigin((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => { n += d.length; });
      req.on('end', () => res.end(`got ${n}`));
    });
    cleanup.push(o.close);
    return o;
  }
  async function proxy(origin: Origin, limits: Record<string, unknown>): Promise<TestProxy> {
    const p = await startProxy({
      limits,
      reverse: [{ routes: [{ match: {}, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: origin.url }], keepalive: 1, retries: 0 } },
    });
    cleanup.push(p.close);
    return p;
  }
  async function client(p: TestProxy): Promise<{ socket: Socket; received: () => string }> {
    const socket = await openSocket(Number(new URL(p.url()).port));
    cleanup.push(() => { socket.destroy(); });
    let text = '';
    socket.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    return { socket, received: () => text };
  }
  const post = (length: number) => `POST /upload HTTP/1.1\r\nHost: test.local\r\nContent-Length: ${length}\r\n\r\n`;

  it('answers 408 and closes when the body trickles in below body_min_rate', async () => {
    const o = await countingOrigin();
    const p = await proxy(o, { body_timeout: '1s', body_min_rate: '100B' });
    const { socket, received } = await client(p);
    socket.write(post(1_000_000));
    // one byte every 300 ms: never a 1 s gap, but ~3 bytes a second
    dripBytes(socket);
    expect(await closesWithin(socket, 15_000)).to.equal(true, 'the proxy closed the connection');
    expect(received()).to.match(/^HTTP\/1.1 408 /);
    expect(received().toLowerCase()).to.include('connection: close');
    const r = await getWithin(`${p.url()}/after`, 15_000);
    expect(r.status).to.equal(200);
  });

  it('answers 408 and closes when the body stops for body_timeout', async () => {
    const o = await countingOrigin();
    const p = await proxy(o, { body_timeout: '1s', body_min_rate: 0 });
    const { socket, received } = await client(p);
    socket.write(`${post(1000)}${'y'.repeat(10)}`);
    expect(await closesWithin(socket, 15_000)).to.equal(true, 'the proxy closed the connection');
    expect(received()).to.match(/^HTTP\/1.1 408 /);
    const r = await getWithin(`${p.url()}/after`, 15_000);
    expect([r.status, r.body]).to.deep.equal([200, 'got 0']);
  });

  it('lets a steady upload through', async () => {
    const o = await countingOrigin();
    const p = await proxy(o, { body_timeout: '2s', body_min_rate: '100B' });
    const { socket, received } = await client(p);
    socket.write(post(40 * 1024).replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
    let sent = 0;
    // 1 KB every 60 ms for about 2.4 s: far above the minimum rate, each pause far below body_timeout
    // (room for a loaded machine's late timers), the whole upload longer than it
    const feed = setInterval(() => { if (sent < 40) { socket.write('z'.repeat(1024)); sent++; } }, 60);
    cleanup.push(() => clearInterval(feed));
    expect(await closesWithin(socket, 15_000)).to.equal(true);
    expect(received()).to.match(/^HTTP\/1.1 200 [\s\S]*got 40960$/);
  });

  it('closes a connection whose unread body trickles in after a direct answer', async () => {
    const p = await startProxy({
      limits: { body_timeout: '1s', body_min_rate: '100B' },
      reverse: [{ routes: [{ match: {}, respond: { status: 204 } }] }],
    });
    cleanup.push(p.close);
    const { socket, received } = await client(p);
    socket.write(post(1_000_000));
    dripBytes(socket);
    expect(await closesWithin(socket, 15_000)).to.equal(true, 'the proxy closed the connection');
    expect(received()).to.match(/^HTTP\/1.1 204 /);
    expect((await getWithin(`${p.url()}/after`, 15_000)).status).to.equal(204);
  });
});
