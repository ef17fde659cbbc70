import { expect } from 'chai';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { makeCertDir } from '../unit/tls/fixtures.js';
import { PluginDir } from '../unit/plugins/plugin-fixtures.js';

const run = promisify(execFile);

interface H2Answer { status: number; headers: IncomingHttpHeaders; body: string; trailers?: IncomingHttpHeaders; interim: number[] }

/** One request on an open HTTP/2 session. */
function h2request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string | string[]): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const interim: number[] = [];
    let head: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders | undefined;
    let text = '';
    stream.on('headers', (h) => interim.push(Number(h[':status'])));
    stream.on('response', (h) => { head = h; });
    stream.on('trailers', (t) => { trailers = t; });
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => { text += d; });
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: text, trailers, interim }));
    stream.on('error', reject);
    if (body !== undefined) {
      for (const part of [body].flat()) stream.write(part);
      stream.end();
    }
  });
}

/** An HTTP/1.1 GET over TLS, for comparing with HTTP/2. */
function h1get(url: string, path: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: IncomingMessage['headers'] }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${url}${path}`, { ca, servername: 'a.test', headers: { host: 'a.test', ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const PLUGIN = `
export function onRequest(req) {
  if (req.path === '/plugin/deny') return { deny: { status: 403, reason: 'no' } };
  return { set_headers: { 'x-plugin-protocol': req.protocol } };
}`;

describe('HTTP/2 downstream: h2 and HTTP/1.1 on one TLS port, the same pipeline', function () {
  this.timeout(30_000);
  let certs: Awaited<ReturnType<typeof makeCertDir>>;
  let origin: Origin;
  let proxy: TestProxy;
  let session: ClientHttp2Session;
  const dir = new PluginDir();
  /** Bodies the origin read, by path. */
  const bodies = new Map<string, string>();
  let cacheable = 0;

  before(async () => {
    certs = await makeCertDir();
    dir.write('proto.js', PLUGIN);
    origin = await startOrigin((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => { body += d; });
      req.on('end', () => {
        bodies.set(req.url!, body);
        if (req.url === '/cacheable') { cacheable++; res.writeHead(200, { 'cache-control': 'max-age=60' }); res.end(`cached ${cacheable}`); return; }
        if (req.url === '/trailers') { res.writeHead(200, { trailer: 'x-checksum' }); res.write('body'); res.addTrailers({ 'x-checksum': 'abc' }); res.end(); return; }
        if (req.url === '/coded') { res.writeHead(200, { 'transfer-encoding': 'gzip, chunked' }); res.end('not really gzip'); return; }
        if (req.url === '/hints') { res.writeEarlyHints({ link: '</style.css>; rel=preload' }); res.end('after hints'); return; }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: req.url, headers: req.headers, rawHeaders: req.rawHeaders }));
      });
    });
    proxy = await startProxy({
      plugins: { dir: dir.dir, watch: false },
      reverse: [{
        tls: { certs: [{ cert: join(certs.dir, 'a.pem'), key: join(certs.dir, 'a.key') }] },
        routes: [
          { name: 'admin', match: { path_prefix: '/admin' }, respond: { status: 403, body: 'no' } },
          { name: 'plugin', match: { path_prefix: '/plugin' }, pool: 'app', plugins: ['proto.js'] },
          { name: 'cached', match: { path_prefix: '/cacheable' }, pool: 'app', cache: true },
          { name: 'main', match: { host: 'a.test' }, pool: 'app' },
        ],
      }, {
        tls: { certs: [{ cert: join(certs.dir, 'a.pem'), key: join(certs.dir, 'a.key') }] },
        http2: false,
        routes: [{ match: {}, pool: 'app' }],
      }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
    session = h2connect(proxy.url(), { ca: certs.caPem, servername: 'a.test' });
    await once(session, 'connect');
  });
  after(async () => { session.close(); await proxy.close(); await origin.close(); await certs.cleanup(); dir.remove(); });

  it('negotiates h2 by ALPN, and HTTP/1.1 on the same port for clients that offer only that', async () => {
    expect(session.alpnProtocol).to.equal('h2');
    const port = Number(new URL(proxy.url()).port);
    const alpn = async (protocols: string[]) => {
      const s = tlsConnect({ port, host: '127.0.0.1', servername: 'a.test', ca: certs.caPem, ALPNProtocols: protocols });
      await once(s, 'secureConnect');
      const chosen = s.alpnProtocol;
      s.destroy();
      return chosen;
    };
    expect(await alpn(['http/1.1'])).to.equal('http/1.1');
    expect(await alpn(['h2', 'http/1.1'])).to.equal('h2');
    const h1 = await h1get(proxy.url(), '/same', certs.caPem);
    const h2 = await h2request(session, { ':path': '/same', ':authority': 'a.test' });
    expect(h2.status).to.equal(200);
    expect(JSON.parse(h2.body).url).to.equal(JSON.parse(h1.body).url);
    const protocols = proxy.logs.filter((l) => l.msg === 'access' && l.path === '/same').map((l) => l.protocol);
    expect(protocols).to.deep.equal(['HTTP/1.1', 'HTTP/2']);
  });

  it('http2: false offers only HTTP/1.1', async () => {
    const port = Number(new URL(proxy.url(1)).port);
    const s = tlsConnect({ port, host: '127.0.0.1', servername: 'a.test', ca: certs.caPem, ALPNProtocols: ['h2', 'http/1.1'] });
    await once(s, 'secureConnect');
    expect(s.alpnProtocol).to.equal('http/1.1');
    s.destroy();
  });

  it('translates to HTTP/1.1 upstream: :authority becomes Host, cookie crumbs are joined, no pseudo-header leaks', async () => {
    const r = await h2request(session, { ':path': '/translate?q=1', ':authority': 'a.test', cookie: ['a=1', 'b=2'], 'x-custom': 'yes' });
    expect(r.status).to.equal(200);
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string>; rawHeaders: string[] };
    expect(seen.url).to.equal('/translate?q=1');
    expect(seen.headers.host).to.equal('a.test');
    expect(seen.headers['x-forwarded-proto']).to.equal('https');
    expect(seen.headers['x-custom']).to.equal('yes');
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names.filter((n) => n === 'cookie')).to.have.length(1);
    expect(seen.headers.cookie).to.equal('a=1; b=2');
    expect(names.filter((n) => n.startsWith(':'))).to.deep.equal([]);
  });

  it('routes and normalises paths as on HTTP/1.1 (a dot-segment path cannot reach /admin\'s upstream)', async () => {
    const r = await h2request(session, { ':path': '/public/../admin/x', ':authority': 'a.test' });
    expect([r.status, r.body]).to.deep.equal([403, 'no']);
    const bad = await h2request(session, { ':path': '/a%00b', ':authority': 'a.test' });
    expect(bad.status).to.equal(400);
    expect(bad.headers['proxy-status']).to.match(/error=http_request_error/);
    // a 400 is a stream's answer: the connection carries on
    const after = await h2request(session, { ':path': '/after', ':authority': 'a.test' });
    expect(after.status).to.equal(200);
  });

  it('forwards request bodies with and without content-length', async () => {
    const sized = await h2request(session, { ':path': '/post-sized', ':authority': 'a.test', ':method': 'POST', 'content-length': '11' }, 'hello world');
    const streamed = await h2request(session, { ':path': '/post-streamed', ':authority': 'a.test', ':method': 'POST' }, ['part one, ', 'part two']);
    expect([sized.status, streamed.status]).to.deep.equal([200, 200]);
    expect(bodies.get('/post-sized')).to.equal('hello world');
    expect(bodies.get('/post-streamed')).to.equal('part one, part two');
  });

  it('shares the cache with HTTP/1.1: stored once, a hit on either protocol', async () => {
    const first = await h2request(session, { ':path': '/cacheable', ':authority': 'a.test' });
    const second = await h2request(session, { ':path': '/cacheable', ':authority': 'a.test' });
    const viaH1 = await h1get(proxy.url(), '/cacheable', certs.caPem);
    expect([first.body, second.body, viaH1.body]).to.deep.equal(['cached 1', 'cached 1', 'cached 1']);
    expect(cacheable).to.equal(1);
  });

  it('runs plugins, whose request view says the protocol', async () => {
    const r = await h2request(session, { ':path': '/plugin/x', ':authority': 'a.test' });
    expect(JSON.parse(r.body).headers['x-plugin-protocol']).to.equal('HTTP/2');
    const h1 = await h1get(proxy.url(), '/plugin/x', certs.caPem);
    expect(JSON.parse(h1.body).headers['x-plugin-protocol']).to.equal('HTTP/1.1');
    const denied = await h2request(session, { ':path': '/plugin/deny', ':authority': 'a.test' });
    expect(denied.status).to.equal(403);
  });

  it('relays response trailers and 103 Early Hints', async () => {
    const t = await h2request(session, { ':path': '/trailers', ':authority': 'a.test', te: 'trailers' });
    expect(t.body).to.equal('body');
    expect(t.trailers?.['x-checksum']).to.equal('abc');
    const hints = await h2request(session, { ':path': '/hints', ':authority': 'a.test' });
    expect(hints.interim).to.include(103);
    expect([hints.status, hints.body]).to.deep.equal([200, 'after hints']);
  });

  it('answers 502 to a response with a transfer coding (HTTP/2 has none), which HTTP/1.1 gets intact', async () => {
    const h2 = await h2request(session, { ':path': '/coded', ':authority': 'a.test' });
    expect(h2.status).to.equal(502);
    expect(h2.headers['proxy-status']).to.match(/error=http_protocol_error/);
    const h1 = await h1get(proxy.url(), '/coded', certs.caPem);
    expect([h1.status, h1.headers['transfer-encoding']]).to.deep.equal([200, 'gzip, chunked']);
  });

  it('refuses CONNECT (no WebSocket over HTTP/2) with 405, and never advertises extended CONNECT', async () => {
    expect(session.remoteSettings.enableConnectProtocol).to.equal(false);
    const r = await h2request(session, { ':method': 'CONNECT', ':authority': 'a.test:443' });
    expect(r.status).to.equal(405);
  });

  it('answers curl --http2 like HTTP/1.1', async function () {
    const { stdout: versions } = await run('curl', ['-V']);
    if (!/HTTP2/.test(versions)) this.skip();
    const port = new URL(proxy.url()).port;
    const curl = async (flag: string) => (await run('curl', [flag, '-s', '--cacert', join(certs.dir, 'ca.pem'), '--resolve', `a.test:${port}:127.0.0.1`,
      '-w', '\n%{http_version} %{http_code}', `https://a.test:${port}/curl/path`])).stdout;
    const [h2body, h2status] = (await curl('--http2')).split('\n');
    const [h1body, h1status] = (await curl('--http1.1')).split('\n');
    expect(h2status).to.equal('2 200');
    expect(h1status).to.equal('1.1 200');
    expect(JSON.parse(h2body!).url).to.equal(JSON.parse(h1body!).url);
  });
});
