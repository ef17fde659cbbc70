import { expect } from 'chai';
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { dial, dialUrl, relay } from '../../../src/core/tunnel.js';
import { cidrMatcher, parseCidr } from '../../../src/core/cidr.js';
import { rawHead, rawResponse } from '../../../src/core/raw-response.js';
import { refusedUrl } from '../../helpers/addresses.js';

/** A loopback server (half-open allowed); `accepted` is its first connection. */
async function serve(onSocket: (s: Socket) => void = () => {}): Promise<{ server: Server; port: number; accepted: Promise<Socket> }> {
  let first!: (s: Socket) => void;
  const accepted = new Promise<Socket>((resolve) => { first = resolve; });
  const server = net.createServer({ allowHalfOpen: true }, (s) => { s.on('error', () => {}); onSocket(s); first(s); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, accepted };
}

/** A connected pair: `client` as a proxy's client socket, `peer` as the far end of it. */
async function clientPair(): Promise<{ client: Socket; peer: Socket; close(): void }> {
  const { server, port, accepted } = await serve();
  const peer = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  return { client: await accepted, peer, close: () => server.close() };
}

const collect = (s: Socket): Promise<string> => new Promise((resolve) => {
  let text = '';
  s.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  s.once('end', () => resolve(text));
});

describe('core/tunnel', () => {
  it('dial: resolves a connected half-open socket; a refused port rejects with ECONNREFUSED', async () => {
    const { server, port } = await serve((s) => s.end('hello'));
    try {
      const socket = await dial('127.0.0.1', port, 5000);
      expect(socket.allowHalfOpen).to.equal(true);
      expect(await collect(socket)).to.equal('hello');
      socket.destroy();
      const viaUrl = await dialUrl(new URL(`tcp://[::ffff:127.0.0.1]:${port}`), 5000);
      viaUrl.destroy();
    } finally { server.close(); }
    const err = await dialUrl(new URL(refusedUrl()), 5000).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(err?.code).to.equal('ECONNREFUSED');
  });

  it('relay: carries bytes both ways, passes each half-close on, and counts the bytes each way', async () => {
    const { server, port, accepted } = await serve();
    const dialled = await dial('127.0.0.1', port, 5000);
    const far = await accepted;
    const { client, peer, close } = await clientPair();
    const result = relay(client, dialled, 0);
    const farGot = collect(far);
    peer.end('ping!'); // the client finished sending; the upstream still answers after that
    expect(await farGot).to.equal('ping!');
    const peerGot = collect(peer);
    far.end('pong, later');
    expect(await peerGot).to.equal('pong, later');
    expect(await result).to.deep.equal({ up: 5, down: 11, reason: undefined });
    close(); server.close();
  });

  it('relay: an idle tunnel is closed after idleMs, with the reason', async () => {
    const { server, port, accepted } = await serve();
    const upstream = await dial('127.0.0.1', port, 5000);
    const far = await accepted;
    const { client, peer, close } = await clientPair();
    peer.on('error', () => {});
    const farEnded = once(far.resume(), 'end');
    const r = await relay(client, upstream, 200);
    expect(r.reason).to.equal('idle_timeout');
    await farEnded; // the upstream's connection was closed too
    peer.destroy(); close(); server.close();
  });

  it('relay: a client already gone closes the upstream at once and still resolves', async () => {
    const { server, port } = await serve((s) => s.resume());
    const upstream = await dial('127.0.0.1', port, 5000);
    const { client, peer, close } = await clientPair();
    client.destroy();
    await once(client, 'close'); // gone for good before the upstream was even connected (tcp: listeners)
    const r = await relay(client, upstream, 0);
    expect(upstream.destroyed).to.equal(true);
    expect(r.up).to.equal(0);
    peer.destroy(); close(); server.close();
  });
});

describe('core/cidr', () => {
  it('parses CIDRs and bare IPs, folds IPv4-mapped IPv6, refuses the rest', () => {
    expect(parseCidr('10.0.0.0/8')).to.deep.equal({ address: '10.0.0.0', prefix: 8, family: 4 });
    expect(parseCidr('::1')).to.deep.equal({ address: '::1', prefix: 128, family: 6 });
    expect(parseCidr('::ffff:10.0.0.0/104')).to.deep.equal({ address: '10.0.0.0', prefix: 8, family: 4 });
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'a/1', '1.2.3.4/8/8', '::/129', 42]) expect(parseCidr(bad), String(bad)).to.equal(undefined);
  });

  it('the matcher is built with the same parser: mapped and plain spellings match alike', () => {
    const isIn = cidrMatcher(['127.0.0.1/32', '::ffff:10.0.0.0/104', '2001:db8::/32']);
    expect(['127.0.0.1', '::ffff:127.0.0.1', '10.2.3.4', '::ffff:10.2.3.4', '2001:db8::5'].filter((ip) => !isIn(ip))).to.deep.equal([]);
    expect(['127.0.0.2', '11.0.0.1', '2001:db9::1', ''].filter(isIn)).to.deep.equal([]);
    expect(() => cidrMatcher(['10.0.0.0/40'])).to.throw(/invalid CIDR/);
  });
});

describe('core/raw-response', () => {
  it('writes an HTTP/1.1 head from a flat field list, and a whole response with its length and connection: close', () => {
    expect(rawHead(200, 'Connection Established')).to.equal('HTTP/1.1 200 Connection Established\r\n\r\n');
    expect(rawHead(103, 'Early Hints', ['link', '</a.css>; rel=preload'])).to.equal('HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n');
    expect(rawResponse(400, 'Bad Request', ['x-request-id', 'r1'], 'é\n')).to.equal(
      'HTTP/1.1 400 Bad Request\r\nx-request-id: r1\r\ncontent-length: 3\r\nconnection: close\r\n\r\né\n');
  });
});
