import { expect } from 'chai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { closesWithin, getRequest, getWithin, openSocket, readAll, waitFor } from '../helpers/raw-socket.js';

const CHUNK = Buffer.alloc(64 * 1024, 'x');

/** Writes `bytes` of body, waiting for drain like a real server; stops when the connection goes. */
function serveBig(res: ServerResponse, bytes: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
  let left = bytes;
  const pump = (): void => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) { res.once('drain', pump); return; }
    }
    if (left === 0) res.end();
  };
  pump();
}

describe('slow readers and the upstream pool', function () {
  this.timeout(60_000);
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

  /** An origin answering /big with 50 MB, /hold never (until the test ends), anything else "ok"; counts responses cut short. */
  async function bigOrigin(): Promise<Origin & { held: ServerResponse[]; cut: () => number }> {
    const held: ServerResponse[] = [];
    let cut = 0;
    const o = await startOrigin((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      res.once('close', () => { if (!res.writableFinished) cut++; });
      if (req.url === '/big') serveBig(res, 50 * 1024 * 1024);
      else if (req.url === '/hold') held.push(res);
      else res.end('ok');
    });
    cleanup.push(o.close);
    return Object.assign(o, { held, cut: () => cut });
  }
  async function proxy(pool: Record<string, unknown>, origin: Origin, limits: Record<string, unknown> = {}): Promise<TestProxy> {
    const p = await startProxy({
      limits,
      reverse: [{ routes: [{ match: {}, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: origin.url }], retries: 0, ...pool } },
    });
    cleanup.push(p.close);
    return p;
  }
  function attacker(s: Socket): Socket { cleanup.push(() => { s.destroy(); }); return s; }

  it('releases upstream connections of pipelined slow readers that went away', async () => {
    const o = await bigOrigin();
    const p = await proxy({ keepalive: 2 }, o);
    const port = Number(new URL(p.url()).port);
    // two clients, three pipelined requests each, never reading a byte
    const sockets = await Promise.all([1, 2].map(async () => attacker(await openSocket(port))));
    for (const s of sockets) { s.pause(); s.write(getRequest('/big').repeat(3)); }
    await waitFor(() => o.seen.length >= 2, 15_000, 'the origin to see the attack');
    // the proxy is writing to both (its buffers to them fill), whatever the moment they go
    await new Promise((r) => setTimeout(r, 300));
    for (const s of sockets) s.destroy();
    const r = await getWithin(`${p.url()}/after`, 15_000);
    expect([r.status, r.body]).to.deep.equal([200, 'ok']);
  });

  it('closes a client that stops reading after send_timeout, and frees its upstream connection', async () => {
    const o = await bigOrigin();
    const p = await proxy({ keepalive: 1 }, o, { send_timeout: '1s' });
    const s = attacker(await openSocket(Number(new URL(p.url()).port)));
    s.pause();
    s.write(getRequest('/big'));
    await waitFor(() => o.cut() === 1, 10_000, 'the upstream request to be aborted');
    // the proxy closed its side: reading now ends early, long before 50 MB
    let got = 0;
    s.on('data', (d: Buffer) => { got += d.length; });
    s.resume();
    expect(await closesWithin(s, 15_000)).to.equal(true, 'the proxy closed the stalled reader');
    expect(got).to.be.lessThan(50 * 1024 * 1024);
    const r = await getWithin(`${p.url()}/after`, 15_000);
    expect([r.status, r.body]).to.deep.equal([200, 'ok']);
  });

  it('lets a slow but moving download finish', async function () {
    this.timeout(90_000); // ~4 s unloaded; a loaded machine slows the reader's own timer too
    const size = 12 * 1024 * 1024;
    const small = await startOrigin((req, res) => { req.resume(); serveBig(res, size); });
    cleanup.push(small.close);
    const p = await proxy({ keepalive: 1 }, small, { send_timeout: '2s' });
    const s = attacker(await openSocket(Number(new URL(p.url()).port)));
    s.write(getRequest('/file', 'test.local', 'connection: close\r\n'));
    // one read (at most 64 KB) every 20 ms: each pause far below send_timeout (with room for a loaded
    // machine), the whole download (~4 s) above it: a timeout on the whole response would cut it
    let got = 0;
    s.on('data', (d: Buffer) => { got += d.length; s.pause(); });
    s.pause();
    const step = setInterval(() => s.resume(), 20);
    cleanup.push(() => clearInterval(step));
    expect(await closesWithin(s, 80_000)).to.equal(true);
    clearInterval(step);
    expect(got).to.be.greaterThan(size);
  });

  it('answers 503 with Retry-After when a request waits for a connection longer than queue_timeout', async () => {
    const o = await bigOrigin();
    const p = await proxy({ keepalive: 1, queue_timeout: '500ms' }, o);
    const holder = attacker(await openSocket(Number(new URL(p.url()).port)));
    holder.write(getRequest('/hold', 'test.local', 'connection: close\r\n'));
    await waitFor(() => o.held.length === 1, 15_000, 'the held request');
    const r = await getWithin(`${p.url()}/queued`, 15_000);
    expect(r.status).to.equal(503);
    expect(r.headers.get('retry-after')).to.match(/^\d+$/);
    expect(r.headers.get('proxy-status')).to.match(/connection_limit_reached/);
    o.held[0]!.end('released');
    expect(await readAll(holder, 15_000)).to.include('released');
    const after = await getWithin(`${p.url()}/after`, 15_000);
    expect([after.status, after.body]).to.deep.equal([200, 'ok']);
  });

  const queuedIn = (p: TestProxy) => (p.gateway.status() as { pools: Record<string, { upstreams: { queued: number }[] }> }).pools.app!.upstreams[0]!.queued;

  /** A pool of one connection, held by a request the origin does not answer yet; one more may queue. */
  async function poolHeldByOne() {
    const o = await bigOrigin();
    const p = await proxy({ keepalive: 1, queue_timeout: '20s', max_queue: 1 }, o);
    const port = Number(new URL(p.url()).port);
    attacker(await openSocket(port)).write(getRequest('/hold', 'test.local', 'connection: close\r\n'));
    await waitFor(() => o.held.length === 1, 15_000, 'the held request');
    return { o, p, port };
  }

  it('gives a queued request\'s place back when its client leaves', async () => {
    const { o, p, port } = await poolHeldByOne();
    const leaver = attacker(await openSocket(port));
    leaver.write(getRequest('/queued'));
    const queued = () => queuedIn(p);
    await waitFor(() => queued() === 1, 15_000, 'the request to queue');
    leaver.destroy();
    await waitFor(() => queued() === 0, 15_000, 'the queue to empty');
    const next = attacker(await openSocket(port));
    next.write(getRequest('/next', 'test.local', 'connection: close\r\n'));
    await waitFor(() => queued() === 1, 15_000, 'the next request to queue');
    o.held[0]!.end('released');
    expect(await readAll(next, 15_000)).to.match(/^HTTP\/1.1 200[\s\S]*ok$/);
    expect(o.seen.map((r) => r.url)).to.deep.equal(['/hold', '/next']);
  });

  it('answers 503 at once when the wait queue is full', async () => {
    const { o, p, port } = await poolHeldByOne();
    const waiting = attacker(await openSocket(port));
    waiting.write(getRequest('/queued', 'test.local', 'connection: close\r\n'));
    await waitFor(() => queuedIn(p) === 1, 15_000, 'the request to queue');
    const r = await getWithin(`${p.url()}/over`, 15_000);
    expect(r.status).to.equal(503);
    o.held[0]!.end('released');
    expect(await readAll(waiting, 15_000)).to.match(/^HTTP\/1.1 200[\s\S]*ok$/);
  });
});

describe('slow readers of cached responses', function () {
  this.timeout(60_000);
  it('closes a client that stops reading a response served whole from the cache, after send_timeout', async () => {
    const size = 24 * 1024 * 1024;
    const body = Buffer.alloc(size, 'k');
    const origin = await startOrigin((req, res) => {
      req.resume();
      res.writeHead(200, { 'cache-control': 'public, max-age=600', 'content-length': String(size) });
      res.end(body);
    });
    const p = await startProxy({
      cache: { max_object_size: '32MB' }, limits: { send_timeout: '1s' },
      reverse: [{ routes: [{ match: {}, pool: 'app', cache: true }] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
    try {
      const port = Number(new URL(p.url()).port);
      const first = await openSocket(port);
      first.write(getRequest('/file', 'test.local', 'connection: close\r\n'));
      expect((await readAll(first, 10_000)).length).to.be.greaterThan(size);
      const slow = await openSocket(port);
      slow.pause();
      slow.write(getRequest('/file'));
      // the proxy drops the stalled connection: its listener holds none any more
      const server = p.gateway.reverseListeners[0]!.listener.server;
      await waitForAsync(async () => (await new Promise<number>((r) => server.getConnections((_e, n) => r(n)))) === 0, 10_000);
      let got = 0;
      slow.on('data', (d: Buffer) => { got += d.length; });
      slow.resume();
      expect(await closesWithin(slow, 15_000)).to.equal(true);
      expect(got).to.be.lessThan(size);
      expect(origin.seen).to.have.length(1);
      const after = await getWithin(`${p.url()}/other`, 15_000);
      expect(after.status).to.equal(200);
    } finally {
      await p.close();
      await origin.close();
    }
  });
});

async function waitForAsync(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}
