import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { WebSocketServer, WebSocket } from 'ws';
import { portOf, logLine, startOrigin, startProxy, simpleReverse, type Origin, type TestProxy } from '../helpers/loopback.js';
import { refusedUrl } from '../helpers/addresses.js';

/** A whole response head has arrived. */
const headDone = (out: string) => out.includes('\r\n\r\n');

/**
 * Raw HTTP exchange on a fresh socket; returns what arrived once the proxy closed the connection or
 * `enough` says so (or 15 s passed, wide so that a loaded machine still answers in time).
 */
async function raw(port: number, text: string, enough: (out: string) => boolean = () => false): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(text);
  let out = '';
  const arrived = new Promise((r) => socket.on('data', (d) => { out += d.toString('latin1'); if (enough(out)) r(undefined); }));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([once(socket, 'close'), arrived, new Promise((r) => { timer = setTimeout(r, 15_000); })]);
  clearTimeout(timer);
  socket.destroy();
  return out;
}

/** Resolves once the proxy's first reverse listener holds `n` client connections (within 15 s). */
async function connectionsReach(p: TestProxy, n: number): Promise<void> {
  const server = p.gateway.reverseListeners[0]!.listener.server;
  const count = () => new Promise<number>((r) => server.getConnections((_e, c) => r(c)));
  for (const end = Date.now() + 15_000; (await count()) !== n;) {
    if (Date.now() > end) throw new Error(`the proxy holds ${await count()} connections, not ${n}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET with any headers (fetch forbids setting Host). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    }).on('error', reject).end();
  });
}

describe('reverse proxy core', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });
  async function origin(h?: Parameters<typeof startOrigin>[0]): Promise<Origin> {
    const o = await startOrigin(h); cleanup.push(o.close); return o;
  }
  async function proxy(cfg: Record<string, unknown>): Promise<TestProxy> {
    const p = await startProxy(cfg); cleanup.push(p.close); return p;
  }

  describe('routing', () => {
    it('matches host wildcards, path prefixes and headers in order, and answers respond routes', async () => {
      const [api, beta, www, other] = await Promise.all(['api', 'beta', 'www', 'other'].map((n) => origin(n)));
      const p = await proxy({
        reverse: [{ routes: [
          { name: 'beta', match: { host: '*.example.com', path_prefix: '/api', headers: { 'x-beta': '1' } }, pool: 'beta' },
          { name: 'api', match: { host: '*.example.com', path_prefix: '/api' }, pool: 'api' },
          { name: 'www', match: { host: 'www.example.org' }, pool: 'www' },
          { name: 'static', match: { path_prefix: '/static/' }, respond: { status: 202, body: 'static!', headers: { 'x-kind': 'direct' } } },
          { name: 'fallback', match: {}, pool: 'other' },
        ] }],
        pools: Object.fromEntries([['api', api], ['beta', beta], ['www', www], ['other', other]].map(([n, o]) => [n, { upstreams: [{ url: (o as Origin).url }] }])),
      });
      const at = (path: string, headers: Record<string, string>) => get(p.url() + path, headers);
      expect((await at('/api/users', { host: 'a.example.com', 'x-beta': '1' })).body).to.equal('beta');
      expect((await at('/api/users', { host: 'a.b.EXAMPLE.com.' })).body).to.equal('api');
      expect((await at('/api', { host: 'x.example.com:8080' })).body).to.equal('api');
      expect((await at('/apiary', { host: 'x.example.com' })).body).to.equal('other', 'prefix matches whole segments');
      expect((await at('/api/users', { host: 'example.com' })).body).to.equal('other', '*.example.com does not match example.com');
      expect((await at('/anything', { host: 'www.example.org' })).body).to.equal('www');
      const s = await at('/static/x.css', { host: 'zzz' });
      expect([s.status, s.body, s.headers['x-kind']]).to.deep.equal([202, 'static!', 'direct']);
      expect(s.headers['x-request-id']).to.be.a('string');
      expect(other.seen.map((r) => r.url)).to.deep.equal(['/apiary', '/api/users']);
      expect(api.seen.map((r) => r.headers.host)).to.deep.equal(['a.b.EXAMPLE.com.', 'x.example.com:8080']);
    });

    it('answers 404 with Proxy-Status when no route matches', async () => {
      const o = await origin('x');
      const p = await proxy({ reverse: [{ routes: [{ match: { path_prefix: '/only' }, pool: 'app' }] }], pools: { app: { upstreams: [{ url: o.url }] } } });
      const r = await fetch(`${p.url()}/elsewhere`);
      expect(r.status).to.equal(404);
      expect(r.headers.get('proxy-status')).to.match(/^gatehouse; error=destination_not_found/);
      expect(o.seen).to.have.length(0);
    });

    it('routes an absolute-form target by its authority and forwards its path; other targets are 400', async () => {
      const [api, other] = await Promise.all([origin('api'), origin('other')]);
      const p = await proxy({
        reverse: [{ routes: [{ match: { host: 'api.test' }, pool: 'api' }, { match: {}, pool: 'other' }] }],
        pools: { api: { upstreams: [{ url: api.url }] }, other: { upstreams: [{ url: other.url }] } },
      });
      const text = await raw(portOf(p.url()), 'GET http://api.test/v1/x?y=1 HTTP/1.1\r\nHost: ignored.test\r\nConnection: close\r\n\r\n');
      expect(text).to.match(/^HTTP\/1\.1 200 /);
      expect(text.endsWith('api')).to.equal(true);
      expect(api.seen[0]!.url).to.equal('/v1/x?y=1');
      expect(api.seen[0]!.headers.host).to.equal('api.test');
      const bad = await raw(portOf(p.url()), 'GET nonsense HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      expect(bad).to.match(/^HTTP\/1\.1 400 /);
      expect(other.seen).to.have.length(0);
    });

    it('strips the path prefix when asked', async () => {
      const o = await origin('x');
      const p = await proxy(simpleReverse([o.url], {}, { match: { path_prefix: '/svc' }, strip_prefix: true }));
      await (await fetch(`${p.url()}/svc/a/b?q=1`)).text();
      await (await fetch(`${p.url()}/svc`)).text();
      expect(o.seen.map((r) => r.url)).to.deep.equal(['/a/b?q=1', '/']);
    });
  });

  it('round-robins over the pool', async () => {
    const os = await Promise.all(['a', 'b', 'c'].map((n) => origin(n)));
    const p = await proxy(simpleReverse(os.map((o) => o.url)));
    const seen: string[] = [];
    for (let i = 0; i < 9; i++) seen.push(await (await fetch(p.url())).text());
    expect(seen.join('')).to.equal('abcabcabc');
  });

  describe('bodies', () => {
    it('streams 10 MB up and 10 MB down intact', async () => {
      const o = await origin((req, res) => {
        // Echo the body back as it arrives.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
      });
      const p = await proxy(simpleReverse([o.url]));
      const chunk = Buffer.alloc(64 * 1024);
      const sent = createHash('sha256');
      const got = createHash('sha256');
      let received = 0;
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(`${p.url()}/echo`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
          res.on('data', (d: Buffer) => { got.update(d); received += d.length; });
          res.on('end', resolve);
        });
        req.on('error', reject);
        let i = 0;
        const pump = () => {
          while (i < 160) {
            chunk.fill(i % 251);
            sent.update(chunk);
            i++;
            if (!req.write(chunk)) { req.once('drain', pump); return; }
          }
          req.end();
        };
        pump();
      });
      expect(received).to.equal(160 * 64 * 1024);
      expect(got.digest('hex')).to.equal(sent.digest('hex'));
    });

    it('applies backpressure upstream: a stalled origin stops the client from sending far ahead', async () => {
      let release!: () => void;
      const stalled = new Promise<void>((r) => { release = r; });
      const o = await origin((req, res) => { void stalled.then(() => { req.resume(); req.on('end', () => res.end('done')); }); });
      const p = await proxy({ ...simpleReverse([o.url]), limits: { max_body_size: '100MB' } });
      const total = 64 * 1024 * 1024;
      let written = 0;
      const req = httpRequest(`${p.url()}/upload`, { method: 'PUT', headers: { 'content-length': String(total) } });
      const chunk = Buffer.alloc(256 * 1024, 1);
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!req.write(chunk)) { req.once('drain', pump); return; }
        }
        req.end();
      };
      pump();
      await new Promise((r) => setTimeout(r, 1000));
      const whileStalled = written;
      release();
      const [res] = await once(req, 'response');
      res.resume();
      await once(res, 'end');
      expect(res.statusCode).to.equal(200);
      expect(whileStalled).to.be.lessThan(total / 2, `client wrote ${whileStalled} bytes while the origin read nothing`);
    });

    it('applies backpressure downstream: a slow client stops the origin from sending far ahead', async () => {
      const total = 64 * 1024 * 1024;
      let produced = 0;
      const o = await origin((_req, res) => {
        res.writeHead(200, { 'content-length': String(total) });
        const chunk = Buffer.alloc(256 * 1024, 2);
        const pump = () => {
          while (produced < total) {
            produced += chunk.length;
            if (!res.write(chunk)) { res.once('drain', pump); return; }
          }
          res.end();
        };
        pump();
      });
      const p = await proxy(simpleReverse([o.url]));
      const req = httpRequest(`${p.url()}/download`);
      req.end();
      const [res] = await once(req, 'response');
      res.pause();
      await new Promise((r) => setTimeout(r, 1000));
      const whilePaused = produced;
      let received = 0;
      res.on('data', (d: Buffer) => { received += d.length; });
      res.resume();
      await once(res, 'end');
      expect(received).to.equal(total);
      expect(whilePaused).to.be.lessThan(total / 2, `origin produced ${whilePaused} bytes while the client read nothing`);
    });
  });

  describe('headers', () => {
    it('strips hop-by-hop and Connection-listed headers both ways and never forwards Proxy-Authorization', async () => {
      const o = await origin((req, res) => {
        req.resume();
        res.writeHead(200, [
          'Connection', 'x-secret-hop', 'X-Secret-Hop', 'internal', 'Keep-Alive', 'timeout=5',
          'Proxy-Authenticate', 'Basic', 'X-End', 'kept', 'Via', '1.0 origin-cache',
        ]);
        res.end('ok');
      });
      const p = await proxy(simpleReverse([o.url]));
      const text = await raw(portOf(p.url()),
        'GET /h HTTP/1.1\r\nHost: site\r\nConnection: keep-alive, X-Drop-Me\r\nX-Drop-Me: 1\r\nKeep-Alive: 300\r\n' +
        'Proxy-Authorization: Basic dTpw\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Keep: yes\r\nVia: 1.0 client-proxy\r\n\r\n', headDone);
      const seen = o.seen[0]!.headers;
      expect(seen).to.not.have.any.keys('x-drop-me', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te');
      expect(seen['x-keep']).to.equal('yes');
      expect(seen.via).to.equal('1.0 client-proxy, 1.1 gh-test');
      const head = text.split('\r\n\r\n')[0]!.toLowerCase();
      expect(head).to.not.include('x-secret-hop');
      expect(head).to.not.include('proxy-authenticate');
      expect(head).to.not.include('keep-alive: timeout=5');
      expect(head).to.include('x-end: kept');
      expect(head).to.include('via: 1.0 origin-cache, 1.1 gh-test');
    });

    it('sets X-Forwarded-* and keeps a client X-Forwarded-For only from trusted proxies', async () => {
      const o = await origin('ok');
      const trusting = await proxy({ ...simpleReverse([o.url]), trusted_proxies: ['127.0.0.1/32'] });
      await get(trusting.url(), { 'x-forwarded-for': '203.0.113.9', host: 'shop.test' });
      const distrusting = await proxy({ ...simpleReverse([o.url]), trusted_proxies: ['10.0.0.0/8'] });
      await (await fetch(distrusting.url(), { headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } })).text();
      expect(o.seen[0]!.headers['x-forwarded-for']).to.equal('203.0.113.9, 127.0.0.1');
      expect(o.seen[0]!.headers['x-forwarded-host']).to.equal('shop.test');
      expect(o.seen[0]!.headers['x-forwarded-proto']).to.equal('http');
      expect(o.seen[1]!.headers['x-forwarded-for']).to.equal('127.0.0.1');
      expect(o.seen[1]!.headers['x-forwarded-proto']).to.equal('http');
    });

    it('keeps a sane client X-Request-Id, replaces an insane one, and sends the same id both ways and to the log', async () => {
      const o = await origin('ok');
      const p = await proxy(simpleReverse([o.url]));
      const kept = await fetch(p.url(), { headers: { 'x-request-id': 'abc-123' } });
      await kept.text();
      const replaced = await fetch(p.url(), { headers: { 'x-request-id': 'bad id with spaces' } });
      await replaced.text();
      expect(kept.headers.get('x-request-id')).to.equal('abc-123');
      expect(o.seen[0]!.headers['x-request-id']).to.equal('abc-123');
      const newId = replaced.headers.get('x-request-id')!;
      expect(newId).to.match(/^[0-9a-f-]{36}$/);
      expect(o.seen[1]!.headers['x-request-id']).to.equal(newId);
      // access lines are written just after their responses
      for (const id of ['abc-123', newId]) await logLine(p.logs, (l) => l.msg === 'access' && l.reqId === id);
      const access = p.logs.filter((l) => l.msg === 'access');
      expect(access.map((l) => l.reqId)).to.deep.equal(['abc-123', newId]);
      expect(access[0]).to.include({ method: 'GET', path: '/', status: 200, route: 'route0', pool: 'app', upstream: o.url, upstream_status: 200, node: 'test' });
    });
  });

  describe('upstream failures', () => {
    it('answers 502 with Proxy-Status when the upstream refuses', async () => {
      const p = await proxy(simpleReverse([refusedUrl()], { retries: 0 }));
      const r = await fetch(p.url());
      expect(r.status).to.equal(502);
      expect(r.headers.get('proxy-status')).to.equal('gatehouse; error=connection_refused');
      const body = await r.text();
      expect(body).to.include(r.headers.get('x-request-id')!);
    });

    it('answers 504 when the upstream is slower than response_timeout', async () => {
      const o = await origin((req) => { req.resume(); /* never answers */ });
      const p = await proxy(simpleReverse([o.url], { response_timeout: '300ms', retries: 0 }));
      const t0 = Date.now();
      const r = await fetch(p.url());
      expect(r.status).to.equal(504);
      expect(r.headers.get('proxy-status')).to.equal('gatehouse; error=http_response_timeout');
      expect(Date.now() - t0).to.be.at.least(250).and.lessThan(15_000);
    });

    it('retries an idempotent request on another upstream when one refuses', async () => {
      const live = await origin('live');
      const p = await proxy(simpleReverse([refusedUrl(), live.url], { retries: 1 }));
      const bodies = [];
      for (let i = 0; i < 4; i++) bodies.push(await (await fetch(p.url())).text());
      expect(bodies).to.deep.equal(['live', 'live', 'live', 'live']);
      expect(live.seen).to.have.length(4);
    });
  });

  describe('limits', () => {
    it('answers 408 to a client that is too slow to send its head', async () => {
      const o = await origin('x');
      const p = await proxy({ ...simpleReverse([o.url]), limits: { header_timeout: '300ms' } });
      const text = await raw(portOf(p.url()), 'GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ', headDone);
      expect(text).to.match(/^HTTP\/1\.1 408 /);
      expect(text.toLowerCase()).to.include('proxy-status: gatehouse; error=http_request_error');
      expect(text.toLowerCase()).to.match(/x-request-id: [0-9a-f-]{36}/);
      expect(o.seen).to.have.length(0);
    });

    it('answers 413 for a declared body over max_body_size and for a chunked one', async () => {
      const o = await origin((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
      const p = await proxy({ ...simpleReverse([o.url]), limits: { max_body_size: '1KB' } });
      const declared = await fetch(p.url(), { method: 'POST', body: 'x'.repeat(2000) });
      expect(declared.status).to.equal(413);
      expect(o.seen).to.have.length(0);
      const text = await raw(portOf(p.url()),
        `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n${'y'.repeat(2048)}\r\n0\r\n\r\n`, headDone);
      expect(text).to.match(/^HTTP\/1\.1 413 /);
      const small = await fetch(p.url(), { method: 'POST', body: 'x'.repeat(500) });
      expect(small.status).to.equal(200);
    });

    it('answers 431 when the request head is larger than max_header_size', async () => {
      const o = await origin('x');
      const p = await proxy({ ...simpleReverse([o.url]), limits: { max_header_size: '2KB' } });
      const text = await raw(portOf(p.url()), `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'z'.repeat(4000)}\r\n\r\n`, headDone);
      expect(text).to.match(/^HTTP\/1\.1 431 /);
      expect(o.seen).to.have.length(0);
    });

    it('answers 400 to a malformed request', async () => {
      const o = await origin('x');
      const p = await proxy(simpleReverse([o.url]));
      const text = await raw(portOf(p.url()), 'GET / HTTP/1.1\r\nHost: a\r\nBad Header Name: x\r\n\r\n', headDone);
      expect(text).to.match(/^HTTP\/1\.1 400 /);
      expect(text.toLowerCase()).to.include('x-request-id:');
    });

    it('answers 429 over the per-IP rate', async () => {
      const o = await origin('x');
      const p = await proxy({ ...simpleReverse([o.url]), limits: { rate: { per_ip: 5 } } });
      // 40 at once: a bucket of 5 refilled at 5/s lets through 5 plus what the elapsed time earns back
      // (however slow a loaded machine is), and refuses the rest
      const t0 = performance.now();
      const statuses = await Promise.all(Array.from({ length: 40 }, async () => { const r = await fetch(p.url()); await r.text(); return r.status; }));
      const seconds = (performance.now() - t0) / 1000;
      const allowed = statuses.filter((s) => s === 200).length;
      expect(allowed).to.be.within(5, 5 + Math.ceil(5 * seconds));
      expect(statuses.filter((s) => s === 429)).to.have.length(40 - allowed);
    });
  });

  it('keeps connections to the upstream alive and reuses them', async () => {
    const o = await origin('ka');
    let connections = 0;
    o.server.on('connection', () => { connections++; });
    const p = await proxy(simpleReverse([o.url]));
    for (let i = 0; i < 20; i++) await (await fetch(p.url())).text();
    expect(o.seen).to.have.length(20);
    expect(connections).to.equal(1);
  });

  it('closes client connections over max_connections', async () => {
    const o = await origin('x');
    const p = await proxy({ ...simpleReverse([o.url]), limits: { max_connections: 2 } });
    const port = portOf(p.url());
    const held = await Promise.all([0, 1].map(async () => {
      const s = connect(port, '127.0.0.1');
      await once(s, 'connect');
      return s;
    }));
    await connectionsReach(p, 2);
    const third = await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(third).to.equal('', 'the third connection is closed without an answer');
    held.forEach((s) => s.destroy());
    await connectionsReach(p, 0);
    const fourth = await raw(port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(fourth).to.match(/^HTTP\/1\.1 200 /);
  });

  describe('WebSocket', () => {
    it('echoes through the proxy after a real 101', async () => {
      const o = await origin((_req, res) => res.end('plain'));
      const wss = new WebSocketServer({ server: o.server });
      wss.on('connection', (ws, req) => {
        ws.on('message', (m) => ws.send(`echo:${m.toString()}:${req.headers['x-forwarded-for']}`));
      });
      cleanup.push(async () => { wss.close(); });
      const p = await proxy(simpleReverse([o.url]));
      const ws = new WebSocket(p.url().replace('http', 'ws') + '/chat');
      await once(ws, 'open');
      ws.send('hi');
      const [msg] = await once(ws, 'message');
      expect(msg.toString()).to.equal('echo:hi:127.0.0.1');
      ws.close();
      await once(ws, 'close');
    });

    it('relays a refused upgrade as a normal response, with no tunnel', async () => {
      const o = await origin((req, res) => { req.resume(); res.writeHead(403).end('no websockets here'); });
      const p = await proxy(simpleReverse([o.url]));
      const text = await raw(portOf(p.url()),
        'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n', (out) => out.includes('no websockets here'));
      expect(text).to.match(/^HTTP\/1\.1 403 /);
      expect(text).to.include('no websockets here');
    });
  });
});
