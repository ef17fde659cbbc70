/**
 * Forward proxy, plain HTTP: real clients (curl -x, undici ProxyAgent, raw node:http) through a
 * forward listener to loopback origins that are explicitly exempted from the SSRF guard.
 */
import { expect } from 'chai';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { ProxyAgent, request } from 'undici';
import { curl, hasCurl, stubLookup, viaProxy } from '../helpers/forward.js';
import { forwardPortOf, startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { refusedUrl } from '../helpers/addresses.js';

/** One raw request to the proxy with exactly the given target and headers (no client rewriting). */
function raw(port: number, target: string, headers: Record<string, string | string[]> = {}, method = 'GET', body?: string) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port, method, path: target, headers, agent: false, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** Writes `text` on a fresh connection and resolves with everything the proxy answered. */
function rawSocket(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => { got += d; if (got.includes('\r\n\r\n')) s.end(); });
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

describe('forward proxy: HTTP', () => {
  let origin: Origin;
  let proxy: TestProxy;
  before(async () => {
    origin = await startOrigin((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => { body += d; });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body, remotePort: req.socket.remotePort }));
      });
    });
    proxy = await startProxy({ forward: [{ allow_destinations: [`127.0.0.1:${origin.port}`], cache: false }] });
  });
  after(async () => { await proxy.close(); await origin.close(); });

  it('forwards GET and POST through undici ProxyAgent, streaming bodies both ways', async () => {
    const agent = new ProxyAgent({ uri: proxy.forwardUrl() });
    try {
      const get = await request(`${origin.url}/hello?x=1`, { dispatcher: agent });
      const seen = await get.body.json() as { method: string; url: string; headers: Record<string, string> };
      expect(get.statusCode).to.equal(200);
      expect(seen).to.include({ method: 'GET', url: '/hello?x=1' });
      expect(seen.headers.host).to.equal(`127.0.0.1:${origin.port}`);
      expect(seen.headers.via).to.equal('1.1 gh-test');
      expect(get.headers.via).to.equal('1.1 gh-test');
      const big = 'x'.repeat(300_000);
      const post = await request(`${origin.url}/upload`, { dispatcher: agent, method: 'POST', body: big });
      const echoed = await post.body.json() as { method: string; body: string };
      expect(echoed.method).to.equal('POST');
      expect(echoed.body.length).to.equal(big.length);
    } finally { await agent.close(); }
  });

  it('forwards through curl -x', async function () {
    if (!hasCurl) return this.skip();
    const r = await curl(['-x', proxy.forwardUrl(), `${origin.url}/via-curl`]);
    expect(r.status).to.equal(200);
    expect(JSON.parse(r.body).url).to.equal('/via-curl');
    const post = await curl(['-x', proxy.forwardUrl(), '--data-binary', 'a=1&b=2', `${origin.url}/form`]);
    expect(JSON.parse(post.body)).to.include({ method: 'POST', body: 'a=1&b=2' });
  });

  it('never forwards Proxy-Authorization, Proxy-Connection or X-Forwarded-For (privacy default)', async () => {
    const r = await raw(forwardPortOf(proxy), `${origin.url}/h`, {
      host: `127.0.0.1:${origin.port}`, 'proxy-authorization': 'Basic dTpw', 'proxy-connection': 'keep-alive',
      'x-forwarded-for': '10.9.9.9', 'x-custom': 'kept',
    });
    const seen = JSON.parse(r.body).headers as Record<string, string>;
    expect(seen).to.not.have.any.keys('proxy-authorization', 'proxy-connection', 'x-forwarded-for');
    expect(seen['x-custom']).to.equal('kept');
    expect(seen['x-request-id']).to.be.a('string');
  });

  it('sends X-Forwarded-For when x_forwarded_for is on', async () => {
    const p = await startProxy({ forward: [{ allow_destinations: [`127.0.0.1:${origin.port}`], x_forwarded_for: true }] });
    try {
      const r = await raw(forwardPortOf(p), `${origin.url}/xff`, { host: `127.0.0.1:${origin.port}` });
      expect(JSON.parse(r.body).headers['x-forwarded-for']).to.equal('127.0.0.1');
    } finally { await p.close(); }
  });

  it('answers 400 to origin-form, to a conflicting Host and to duplicate Host headers', async () => {
    const port = forwardPortOf(proxy);
    const originForm = await raw(port, '/not-absolute', { host: `127.0.0.1:${origin.port}` });
    expect(originForm.status).to.equal(400);
    expect(originForm.headers['proxy-status']).to.match(/error=http_request_error/);
    const conflict = await raw(port, `${origin.url}/x`, { host: 'evil.example' });
    expect(conflict.status).to.equal(400);
    const dup = await rawSocket(port, `GET ${origin.url}/x HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nHost: evil.example\r\n\r\n`);
    expect(dup).to.match(/^HTTP\/1\.1 400 /);
    const userinfo = await raw(port, `http://user@127.0.0.1:${origin.port}/x`);
    expect(userinfo.status).to.equal(400);
    // a Host that only differs in spelling (case, trailing dot) is the same host
    const same = await raw(port, `${origin.url}/x`, { host: `127.0.0.1.:${origin.port}` });
    expect(same.status).to.equal(200);
  });

  it('keeps connections to a destination alive across requests', async () => {
    const agent = new ProxyAgent({ uri: proxy.forwardUrl() });
    try {
      const ports = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const r = await request(`${origin.url}/ka${i}`, { dispatcher: agent });
        ports.add((await r.body.json() as { remotePort: number }).remotePort);
      }
      expect(ports.size).to.equal(1);
    } finally { await agent.close(); }
  });

  it('answers 502 with Proxy-Status when the destination refuses the connection', async () => {
    const p = await startProxy({ forward: [{ allow_destinations: ['127.0.0.2'] }] });
    try {
      const r = await raw(forwardPortOf(p), `${refusedUrl()}/`, {});
      expect(r.status).to.equal(502);
      expect(r.headers['proxy-status']).to.match(/error=connection_refused/);
    } finally { await p.close(); }
  });

  it('logs one access line per request with the rule that allowed it', async () => {
    await raw(forwardPortOf(proxy), `${origin.url}/logged`, {});
    const line = proxy.logs.find((l) => l.msg === 'access' && l.path === `${origin.url}/logged`);
    expect(line).to.include({ status: 200, listener: 'forward[0]', rule: 'acl[0]' });
  });
});

describe('forward proxy: PAC and cache', () => {
  it('serves /proxy.pac built from the config', async () => {
    const p = await startProxy({ forward: [{ pac: { internal_domains: ['*.corp.example', 'intranet.example', '10.0.0.0/8'] } }] });
    try {
      const r = await raw(forwardPortOf(p), '/proxy.pac');
      expect(r.status).to.equal(200);
      expect(r.headers['content-type']).to.equal('application/x-ns-proxy-autoconfig');
      expect(r.body).to.include('function FindProxyForURL(url, host)');
      expect(r.body).to.include('".corp.example"').and.include('"intranet.example"').and.include('"10.0.0.0"');
      expect(r.body).to.include(`"PROXY 127.0.0.1:${forwardPortOf(p)}"`);
      // the script really routes: evaluate it with the PAC helpers it uses
      const find = new Function('dnsDomainIs', 'isInNet', `${r.body}; return FindProxyForURL;`)(
        (h: string, d: string) => h.endsWith(d), () => false,
      ) as (u: string, h: string) => string;
      expect(find('http://a.corp.example/', 'a.corp.example')).to.equal('DIRECT');
      expect(find('http://example.org/', 'example.org')).to.equal(`PROXY 127.0.0.1:${forwardPortOf(p)}`);
    } finally { await p.close(); }
    const named = await startProxy({ forward: [{ pac: { proxy: 'proxy.corp.example:3128' } }] });
    try {
      expect((await raw(forwardPortOf(named), '/proxy.pac')).body).to.include('"PROXY proxy.corp.example:3128"');
    } finally { await named.close(); }
  });

  it('answers repeat GETs from the shared cache (Cache-Status hit)', async () => {
    const origin = await startOrigin((_q, s) => { s.writeHead(200, { 'cache-control': 'max-age=600' }); s.end('cacheable'); });
    const p = await startProxy({ forward: [{ allow_destinations: [`127.0.0.1:${origin.port}`], cache: true }] });
    try {
      const a = await raw(forwardPortOf(p), `${origin.url}/c`, {});
      const b = await raw(forwardPortOf(p), `${origin.url}/c`, {});
      expect(a.body).to.equal('cacheable');
      expect(b.body).to.equal('cacheable');
      expect(String(b.headers['cache-status'])).to.match(/^gatehouse; hit/);
      expect(origin.seen).to.have.length(1);
    } finally { await p.close(); await origin.close(); }
  });
});

describe('forward proxy: several addresses', () => {
  it('tries the next checked address when one refuses the connection', async () => {
    const origin = await startOrigin('second address');
    // 127.0.0.2 is loopback too, but nothing listens on it at this port
    const p = await startProxy({ forward: [{ allow_destinations: ['127.0.0.0/8'], cache: false }] }, { forwardLookup: stubLookup({ 'multi.test': ['127.0.0.2', '127.0.0.1'] }) });
    try {
      const r = await viaProxy(Number(new URL(p.forwardUrl()).port), `http://multi.test:${origin.port}/`);
      expect([r.status, r.body]).to.deep.equal([200, 'second address']);
      expect(p.logs.find((l) => l.msg === 'access')).to.include({ address_fallback: 1 });
    } finally {
      await p.close();
      await origin.close();
    }
  });
});
