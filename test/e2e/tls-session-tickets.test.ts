import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { makeCertDir } from '../unit/tls/fixtures.js';
import { ticketKeysAt, TICKET_PERIOD_MS } from '../../src/tls/ticket-keys.js';

/** A handshake with an optional session to resume; resolves whether it was resumed and a ticket for next time. */
function handshake(port: number, ca: string, session?: Buffer): Promise<{ resumed: boolean; ticket?: Buffer }> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'a.test', ca, session });
    let ticket: Buffer | undefined;
    s.on('session', (t: Buffer) => { ticket ??= t; });
    s.once('secureConnect', () => {
      // TLS 1.3 tickets come right after the handshake; a short exchange makes sure one arrived
      s.write('GET / HTTP/1.1\r\nhost: a.test\r\nconnection: close\r\n\r\n');
      s.resume();
      s.once('end', () => resolve({ resumed: s.isSessionReused(), ticket }));
    });
    s.once('error', reject);
  });
}

describe('TLS session tickets shared across workers', () => {
  let certs: Awaited<ReturnType<typeof makeCertDir>>;
  let origin: Origin;
  const proxies: TestProxy[] = [];
  const secret = randomBytes(32);
  const start = (ticketSecret: Buffer) => startProxy({
    reverse: [{ tls: { certs: [{ cert: join(certs.dir, 'a.pem'), key: join(certs.dir, 'a.key') }] }, routes: [{ match: {}, pool: 'app' }] }],
    pools: { app: { upstreams: [{ url: origin.url }] } },
  }, { ticketSecret }).then((p) => { proxies.push(p); return p; });
  const port = (p: TestProxy) => p.gateway.reverseListeners[0]!.listener.address.port;

  before(async () => { certs = await makeCertDir(); origin = await startOrigin('site'); });
  after(async () => { await Promise.all(proxies.map((p) => p.close())); await origin.close(); await certs.cleanup(); });

  it('derives one key per 12-hour window from the secret', () => {
    const t = 1_800_000_000_000;
    expect(ticketKeysAt(secret, t)).to.have.length(48);
    expect(ticketKeysAt(secret, t).equals(ticketKeysAt(secret, t + 1000))).to.equal(Math.floor(t / TICKET_PERIOD_MS) === Math.floor((t + 1000) / TICKET_PERIOD_MS));
    expect(ticketKeysAt(secret, t).equals(ticketKeysAt(secret, t + TICKET_PERIOD_MS))).to.equal(false);
    expect(ticketKeysAt(secret, t).equals(ticketKeysAt(randomBytes(32), t))).to.equal(false);
  });

  it('a ticket from one process resumes on another with the same secret, not on one with another secret', async () => {
    const [a, b, other] = [await start(secret), await start(secret), await start(randomBytes(32))];
    // a certificate reload (SIGHUP, file change, ACME renewal) must keep the shared keys
    for (const p of [a, b]) expect(p.gateway.reverseListeners[0]!.sni!.reload()).to.deep.equal([]);
    const first = await handshake(port(a), certs.caPem);
    expect(first.resumed).to.equal(false);
    expect(first.ticket).to.be.instanceOf(Buffer);
    expect((await handshake(port(b), certs.caPem, first.ticket)).resumed).to.equal(true);
    expect((await handshake(port(other), certs.caPem, first.ticket)).resumed).to.equal(false);
  });
});
