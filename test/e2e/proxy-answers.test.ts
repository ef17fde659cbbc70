/**
 * What the proxy says when it answers itself: one format rule (HTML for clients that prefer it, text
 * otherwise) for every proxy-made answer, the body bytes it sent in the access log, CONNECT tunnels'
 * log line, and the real cause when upstreams refuse or hang up (502, not 503).
 */
import { expect } from 'chai';
import { once } from 'node:events';
import { connect, createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import bcrypt from 'bcryptjs';
import { scratch, stubLookup, viaProxy } from '../helpers/forward.js';
import { send } from '../helpers/http-client.js';
import { forwardPortOf, simpleReverse, startOrigin, startProxy, type TestProxy } from '../helpers/loopback.js';
import { refusedUrl } from '../helpers/addresses.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The access line of a request, once written (it follows the response's end). */
async function accessLine(p: TestProxy, requestId: unknown): Promise<Record<string, unknown>> {
  for (const end = Date.now() + 10_000; Date.now() < end; await sleep(20)) {
    const line = p.logs.find((l) => l.msg === 'access' && l.reqId === requestId);
    if (line) return line;
  }
  throw new Error(`no access line for ${String(requestId)}`);
}

describe('what the proxy says', function () {
  this.timeout(40_000);

  describe('forward listener answers', () => {
    let proxy: TestProxy;
    const files = scratch();
    before(async () => {
      const users = files.write('users', `alice:${bcrypt.hashSync('wonder', 4)}\n`);
      proxy = await startProxy({
        forward: [{ auth: { users_file: users }, acl: [{ name: 'alice', allow: { user: ['alice'] } }] }],
      }, { forwardLookup: stubLookup({ 'ok.test': '127.0.0.1' }) });
    });
    after(() => proxy.close());
    const alice = { 'proxy-authorization': `Basic ${Buffer.from('alice:wonder').toString('base64')}` };

    it('the SSRF denial is HTML for a browser and text for curl, both naming the request id', async () => {
      const page = await viaProxy(forwardPortOf(proxy), 'http://169.254.169.254/latest/meta-data/', { headers: { ...alice, accept: BROWSER_ACCEPT } });
      expect(page.status).to.equal(403);
      expect(page.headers['content-type']).to.equal('text/html; charset=utf-8');
      expect(page.headers['proxy-status']).to.match(/^gatehouse; error=destination_ip_prohibited/);
      expect(page.body).to.match(/^<!doctype html>/).and.include('<title>403 Forbidden</title>').and.include(String(page.headers['x-request-id']));
      const text = await viaProxy(forwardPortOf(proxy), 'http://169.254.169.254/latest/meta-data/', { headers: { ...alice, accept: '*/*' } });
      expect(text.status).to.equal(403);
      expect(text.headers['content-type']).to.equal('text/plain; charset=utf-8');
      expect(text.body).to.match(/^403 Forbidden: /).and.include(`request id: ${String(text.headers['x-request-id'])}`);
    });

    it('ACL denials follow the same rule', async () => {
      const users = files.write('users2', `bob:${bcrypt.hashSync('builder', 4)}\n`);
      const p = await startProxy({ forward: [{ auth: { users_file: users }, acl: [{ name: 'nobody', allow: { user: ['alice'] } }] }] });
      try {
        const bob = { 'proxy-authorization': `Basic ${Buffer.from('bob:builder').toString('base64')}` };
        const text = await viaProxy(forwardPortOf(p), 'http://ok.test/', { headers: bob });
        expect(text.status).to.equal(403);
        expect(text.headers['content-type']).to.equal('text/plain; charset=utf-8');
        expect(text.body).to.include('acl: default');
        const page = await viaProxy(forwardPortOf(p), 'http://ok.test/', { headers: { ...bob, accept: BROWSER_ACCEPT } });
        expect(page.headers['content-type']).to.equal('text/html; charset=utf-8');
        expect(page.body).to.include('<dt>Rule</dt><dd>acl: default</dd>');
      } finally { await p.close(); }
    });

    it('logs the body bytes actually sent for proxy-made 403, 407 and 400 answers', async () => {
      const answers = [
        await viaProxy(forwardPortOf(proxy), 'http://169.254.169.254/', { headers: alice }),
        await viaProxy(forwardPortOf(proxy), 'http://ok.test/', {}),
        await viaProxy(forwardPortOf(proxy), 'http://ok.test/', { headers: { ...alice, host: 'other.test' } }),
        await viaProxy(forwardPortOf(proxy), 'http://169.254.169.254/', { headers: { ...alice, accept: BROWSER_ACCEPT } }),
      ];
      expect(answers.map((a) => a.status)).to.deep.equal([403, 407, 400, 403]);
      for (const a of answers) {
        const line = await accessLine(proxy, a.headers['x-request-id']);
        expect(line.bytes, JSON.stringify(line)).to.equal(Buffer.byteLength(a.body)).and.be.above(0);
      }
    });
  });

  describe('CONNECT tunnels', () => {
    it('log one line when the tunnel closes: bytes each way, bytes sent to the client, and how long it was open', async () => {
      const echo = createNetServer((s) => s.on('data', (d) => s.write(Buffer.concat([d, d]))).on('end', () => s.end()));
      echo.listen(0, '127.0.0.1');
      await once(echo, 'listening');
      const port = (echo.address() as AddressInfo).port;
      const proxy = await startProxy({ forward: [{ connect_ports: [port], allow_destinations: [`127.0.0.1:${port}`] }] });
      try {
        const socket = connect(forwardPortOf(proxy), '127.0.0.1');
        await once(socket, 'connect');
        socket.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
        let got = '';
        socket.on('data', (d) => { got += d; });
        while (!got.includes('\r\n\r\n')) await sleep(10);
        expect(proxy.logs.filter((l) => l.msg === 'access')).to.have.length(0, 'no line while the tunnel is open');
        socket.write('0123456789');
        while (!got.endsWith('01234567890123456789')) await sleep(10);
        await sleep(100);
        socket.end();
        await once(socket, 'close');
        let lines: Record<string, unknown>[] = [];
        for (const end = Date.now() + 10_000; lines.length === 0 && Date.now() < end; await sleep(20)) lines = proxy.logs.filter((l) => l.msg === 'access');
        expect(lines).to.have.length(1);
        expect(lines[0]).to.include({ method: 'CONNECT', status: 200, bytes_up: 10, bytes_down: 20, bytes: 20 });
        expect(lines[0]!.ms).to.be.a('number').and.be.at.least(100);
      } finally { await proxy.close(); echo.close(); }
    });
  });

  describe('upstreams that refuse or hang up', () => {
    it('every upstream refusing: 502 connection_refused once retries run out, and no retry line without a retry', async () => {
      const proxy = await startProxy(simpleReverse([refusedUrl(0), refusedUrl(1)], { retries: 2 }));
      try {
        const r = await send(`${proxy.url()}/`);
        expect(r.status).to.equal(502);
        expect(r.headers['proxy-status']).to.match(/^gatehouse; error=connection_refused/);
        const id = r.headers['x-request-id'];
        const retries = proxy.logs.filter((l) => l.msg === 'retrying on another upstream' && l.reqId === id);
        expect(retries.map((l) => l.attempt)).to.deep.equal([1]);
        expect((await accessLine(proxy, id)).retries).to.equal(1);
      } finally { await proxy.close(); }
    });

    it('an upstream that closes the connection without answering: 502 naming that, not 503', async () => {
      const hangUp: NetServer = createNetServer((s) => s.once('data', () => s.destroy()));
      hangUp.listen(0, '127.0.0.1');
      await once(hangUp, 'listening');
      const proxy = await startProxy(simpleReverse([`http://127.0.0.1:${(hangUp.address() as AddressInfo).port}`], { retries: 2 }));
      try {
        const r = await send(`${proxy.url()}/`);
        expect(r.status).to.equal(502);
        expect(r.headers['proxy-status']).to.match(/^gatehouse; error=connection_terminated/);
      } finally { await proxy.close(); hangUp.close(); }
    });

    it('503 stays the answer when health checks marked every upstream down', async () => {
      // the origin fails its checks from the test's word on (a closed port could be taken by another suite)
      let down = false;
      const origin = await startOrigin((req, res) => { req.resume(); res.statusCode = down ? 500 : 200; res.end(); });
      const proxy = await startProxy(simpleReverse([origin.url], { health: { path: '/', interval: '50ms', timeout: '10s', fall: 1, rise: 1 } }));
      try {
        down = true;
        for (const end = Date.now() + 15_000; !proxy.logs.some((l) => l.msg === 'upstream unhealthy') && Date.now() < end;) await sleep(25);
        expect(proxy.logs.some((l) => l.msg === 'upstream unhealthy'), 'health marked it down').to.equal(true);
        const r = await send(`${proxy.url()}/`);
        expect(r.status).to.equal(503);
        expect(r.headers['proxy-status']).to.match(/^gatehouse; error=destination_unavailable/);
      } finally { await proxy.close(); await origin.close(); }
    });
  });
});
