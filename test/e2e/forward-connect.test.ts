/**
 * Forward proxy, CONNECT: TLS end to end through the tunnel (the client verifies the origin's
 * certificate), port policy, upstream failures, byte-exact relaying, and TLS interception.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { ProxyAgent, request } from 'undici';
import { createCa } from '../../src/tls/dev-certs.js';
import { curl, hasCurl, scratch, startTlsOrigin, stubLookup, type TlsOrigin } from '../helpers/forward.js';
import { forwardPortOf, logLine, startProxy, type TestProxy } from '../helpers/loopback.js';

/** Sends a CONNECT and resolves with the answer head and the socket (open when the answer was 200). */
async function openTunnel(proxyPort: number, authority: string, extra = ''): Promise<{ head: string; socket: Socket }> {
  const socket = connect(proxyPort, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${extra}\r\n`);
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      const rest = got.subarray(end + 4);
      if (rest.length) socket.unshift(rest);
      resolve({ head: got.subarray(0, end).toString('latin1'), socket });
    };
    const onEnd = () => resolve({ head: got.toString('latin1'), socket });
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
}

describe('forward proxy: CONNECT', () => {
  let origin: TlsOrigin;
  let proxy: TestProxy;
  const lookup = stubLookup({ 'secure.test': '127.0.0.1' });
  before(async () => {
    origin = await startTlsOrigin(['secure.test'], (req, res) => res.end(`tls ok ${req.url}`));
    proxy = await startProxy({ forward: [{ connect_ports: [origin.port], allow_destinations: [`127.0.0.1:${origin.port}`] }] }, { forwardLookup: lookup });
  });
  after(async () => { await proxy.close(); await origin.close(); });

  it('tunnels TLS for curl, which verifies the origin certificate end to end', async function () {
    if (!hasCurl) return this.skip();
    const r = await curl(['-x', proxy.forwardUrl(), '--cacert', origin.caFile, `https://secure.test:${origin.port}/curl`]);
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.status).to.equal(200);
    expect(r.body).to.equal('tls ok /curl');
    // without the origin's CA the client refuses: the proxy did not terminate TLS
    const untrusted = await curl(['-x', proxy.forwardUrl(), `https://secure.test:${origin.port}/`]);
    expect(untrusted.exitCode).to.equal(60);
  });

  it('tunnels TLS for undici ProxyAgent', async () => {
    const agent = new ProxyAgent({ uri: proxy.forwardUrl(), requestTls: { ca: origin.ca.certPem } });
    try {
      const r = await request(`https://secure.test:${origin.port}/undici`, { dispatcher: agent });
      expect(await r.body.text()).to.equal('tls ok /undici');
    } finally { await agent.close(); }
  });

  it('logs the tunnel with bytes each way and its duration', async () => {
    const { head, socket } = await openTunnel(forwardPortOf(proxy), `secure.test:${origin.port}`);
    expect(head).to.match(/^HTTP\/1\.1 200 Connection Established/);
    socket.end('not really tls');
    await once(socket.resume(), 'close');
    const line = await logLine(proxy.logs, (l) => l.msg === 'access' && l.method === 'CONNECT' && l.bytes_up === 14);
    expect(line).to.include({ status: 200, path: `secure.test:${origin.port}` });
    expect(line!.bytes_down).to.be.a('number');
    expect(line!.ms).to.be.a('number');
  });

  it('refuses CONNECT to a port outside connect_ports with 403', async () => {
    const { head, socket } = await openTunnel(forwardPortOf(proxy), 'secure.test:22');
    socket.destroy();
    expect(head).to.match(/^HTTP\/1\.1 403 /);
    expect(head.toLowerCase()).to.include('proxy-status: gatehouse; error=http_request_denied');
    if (hasCurl) {
      const r = await curl(['-x', proxy.forwardUrl(), 'https://secure.test:22/']);
      expect(r.exitCode).to.not.equal(0);
      expect(r.stderr).to.match(/403/);
    }
  });

  it('answers 502 connection_refused when the destination port is closed, 403 for a private destination', async () => {
    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    const p = await startProxy({ forward: [{ connect_ports: [port], allow_destinations: [`127.0.0.1:${port}`] }] });
    try {
      const refused = await openTunnel(forwardPortOf(p), `127.0.0.1:${port}`);
      refused.socket.destroy();
      expect(refused.head).to.match(/^HTTP\/1\.1 502 /);
      expect(refused.head).to.match(/proxy-status: gatehouse; error=connection_refused/i);
      const privateDst = await openTunnel(forwardPortOf(p), `10.1.2.3:${port}`);
      privateDst.socket.destroy();
      expect(privateDst.head).to.match(/^HTTP\/1\.1 403 /);
      expect(privateDst.head).to.match(/error=destination_ip_prohibited/);
    } finally { await p.close(); }
  });

  it('relays 8 MB each way byte for byte, with half-close', async () => {
    const echo = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    const port = (echo.address() as AddressInfo).port;
    const p = await startProxy({ forward: [{ connect_ports: [port], allow_destinations: [`127.0.0.1:${port}`] }] });
    try {
      const { head, socket } = await openTunnel(forwardPortOf(p), `127.0.0.1:${port}`);
      expect(head).to.match(/^HTTP\/1\.1 200 /);
      const payload = randomBytes(8 * 1024 * 1024);
      const got: Buffer[] = [];
      socket.on('data', (c: Buffer) => got.push(c));
      socket.resume();
      socket.end(payload);
      await once(socket, 'end');
      const back = Buffer.concat(got);
      expect(back.length).to.equal(payload.length);
      expect(createHash('sha256').update(back).digest('hex')).to.equal(createHash('sha256').update(payload).digest('hex'));
    } finally { await p.close(); echo.close(); }
  });

  it('closes a tunnel idle for connect_idle_timeout', async () => {
    const quiet = createServer((s) => s.on('data', () => undefined));
    quiet.listen(0, '127.0.0.1');
    await once(quiet, 'listening');
    const port = (quiet.address() as AddressInfo).port;
    const p = await startProxy({ forward: [{ connect_ports: [port], allow_destinations: [`127.0.0.1:${port}`], connect_idle_timeout: '200ms' }] });
    try {
      const { socket } = await openTunnel(forwardPortOf(p), `127.0.0.1:${port}`);
      const t0 = Date.now();
      await once(socket.resume(), 'close');
      // not before the idle timeout; the upper bound only says it does end (a loaded machine is slow)
      expect(Date.now() - t0).to.be.within(150, 15_000);
      expect(await logLine(p.logs, (l) => l.method === 'CONNECT')).to.include({ tunnel_end: 'idle_timeout' });
    } finally { await p.close(); quiet.close(); }
  });
});

describe('forward proxy: TLS interception', () => {
  it('decrypts CONNECT traffic with a minted certificate and forwards it as https', async function () {
    if (!hasCurl) return this.skip();
    const origin = await startTlsOrigin(['secure.test'], (req, res) => res.end(`real origin ${req.url} ${req.headers.via}`));
    const dir = scratch();
    const ica = createCa({ commonName: 'Gatehouse Intercept Test CA' });
    const ca = dir.write('ica.pem', ica.certPem);
    const caKey = dir.write('ica.key', ica.keyPem);
    const p = await startProxy({ forward: [{
      connect_ports: [origin.port], allow_destinations: [`127.0.0.1:${origin.port}`], block_urls: ['/blocked/*'],
      intercept_tls: { enabled: true, ca, ca_key: caKey, upstream_ca: origin.caFile },
    }] }, { forwardLookup: stubLookup({ 'secure.test': '127.0.0.1' }) });
    try {
      // the client trusts only the interception CA: it sees our minted certificate, not the origin's
      const r = await curl(['-x', p.forwardUrl(), '--cacert', ca, `https://secure.test:${origin.port}/inside`]);
      expect(r.exitCode, r.stderr).to.equal(0);
      expect(r.body).to.equal('real origin /inside 1.1 gh-test');
      // decrypted requests pass the same policy: URL patterns apply inside the tunnel
      const blocked = await curl(['-x', p.forwardUrl(), '--cacert', ca, `https://secure.test:${origin.port}/blocked/x`]);
      expect(blocked.status).to.equal(403);
      expect(blocked.body).to.include('block_urls[0]');
      const inner = await logLine(p.logs, (l) => l.msg === 'access' && l.path === '/inside');
      expect(inner).to.include({ status: 200, upstream: `https://127.0.0.1:${origin.port}` });
      // the tunnel itself: one line when it closed, with the TLS bytes each way
      const tunnel = await logLine(p.logs, (l) => l.msg === 'access' && l.method === 'CONNECT');
      expect(tunnel).to.include({ status: 200, intercepted: true });
      expect(tunnel!.bytes_up).to.be.above(100);
      expect(tunnel!.bytes_down).to.be.above(500); // at least the minted certificate
    } finally { await p.close(); await origin.close(); }
  });

  it('refuses a destination whose certificate does not verify (502)', async function () {
    if (!hasCurl) return this.skip();
    const origin = await startTlsOrigin(['secure.test']);
    const dir = scratch();
    const ica = createCa();
    const ca = dir.write('ica.pem', ica.certPem);
    const p = await startProxy({ forward: [{
      connect_ports: [origin.port], allow_destinations: [`127.0.0.1:${origin.port}`],
      intercept_tls: { enabled: true, ca, ca_key: dir.write('ica.key', ica.keyPem) },
    }] }, { forwardLookup: stubLookup({ 'secure.test': '127.0.0.1' }) });
    try {
      const r = await curl(['-x', p.forwardUrl(), '--cacert', ca, `https://secure.test:${origin.port}/`]);
      expect(r.status).to.equal(502);
      expect(r.headers).to.match(/proxy-status: gatehouse; error=tls_certificate_error/i);
    } finally { await p.close(); await origin.close(); }
  });
});
