/** Edge: loops. A request whose Via already names this instance is 508; two instances chained are not a loop. */
import { expect } from 'chai';
import { exchange, okReply, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.js';
import { portOf, startProxy, simpleReverse, type TestProxy } from '../helpers/loopback.js';
import { freePort, OWN_HOST, ownAddress, ownUrl } from '../helpers/addresses.js';

describe('edge: loops and Via', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });
  async function proxy(cfg: Record<string, unknown>): Promise<TestProxy> { const p = await startProxy(cfg); cleanup.push(() => p.close()); return p; }
  async function origin(): Promise<RecordingOrigin> { const o = await startRecordingOrigin(() => okReply('origin')); cleanup.push(o.close); return o; }

  it('a pool pointing at its own listener stops at the second pass with 508', async () => {
    const port = await freePort();
    const p = await proxy({ reverse: [{ listen: ownAddress(port), routes: [{ match: {}, pool: 'self' }] }], pools: { self: { upstreams: [{ url: ownUrl(port) }], retries: 0 } }, via_name: '' });
    const { responses } = await exchange(port, 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', { host: OWN_HOST });
    expect(responses.map((r) => r.status)).to.deep.equal([508]);
    expect(responses[0]!.headers['proxy-status']).to.match(/proxy_loop_detected/);
    const access = p.logs.filter((l) => l.msg === 'access');
    expect(access).to.have.length(2); // the client's request and one looped pass, no more
  });

  for (const [what, via] of [
    ['its own name', '1.1 NODE'], ['its own name among others', '1.0 a, 1.1 NODE (comment), 2 b'], ['its name in another case', '1.1 node-upper'],
    ['its name in a second Via field', '1.1 a\r\nVia: 1.1 NODE'],
  ] as const) {
    it(`answers 508 to a request whose Via carries ${what}, before anything goes upstream`, async () => {
      const o = await origin();
      const p = await proxy({ ...simpleReverse([o.url]), via_name: what.includes('case') ? 'NODE-UPPER' : 'NODE' });
      const { responses } = await exchange(portOf(p.url()), `GET /x HTTP/1.1\r\nHost: a\r\nVia: ${via}\r\nConnection: close\r\n\r\n`);
      expect(responses.map((r) => r.status)).to.deep.equal([508]);
      expect(o.requests).to.have.length(0);
    });
  }

  it('does not take a name that merely contains its own for a loop', async () => {
    const o = await origin();
    const p = await proxy({ ...simpleReverse([o.url]), via_name: 'node' });
    const { responses } = await exchange(portOf(p.url()), 'GET /x HTTP/1.1\r\nHost: a\r\nVia: 1.1 node2, 1.1 my-node\r\nConnection: close\r\n\r\n');
    expect(responses.map((r) => r.status)).to.deep.equal([200]);
  });

  it('two instances with the default name, on one host and with one node_id, chained as child and parent: no loop', async () => {
    const o = await origin();
    const parent = await proxy({ ...simpleReverse([o.url]), via_name: '' });
    const child = await proxy({ ...simpleReverse([parent.url()]), via_name: '' });
    const { responses } = await exchange(portOf(child.url()), 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(responses.map((r) => r.status)).to.deep.equal([200]);
    const via = o.requests[0]!.headers.via!;
    expect(via).to.match(/^1\.1 gh-test-[0-9a-f]{6}, 1\.1 gh-test-[0-9a-f]{6}$/);
    expect(new Set(via.split(', ')).size).to.equal(2);
  });

  it('forward mode: 508 for a request that already passed through this instance', async () => {
    const o = await origin();
    const p = await proxy({ forward: [{ allow_private_destinations: true }], via_name: 'fwd-node' });
    const { responses } = await exchange(portOf(p.forwardUrl()), `GET http://127.0.0.1:${o.port}/x HTTP/1.1\r\nHost: 127.0.0.1:${o.port}\r\nVia: 1.1 fwd-node\r\nConnection: close\r\n\r\n`);
    expect(responses.map((r) => r.status)).to.deep.equal([508]);
    expect(o.requests).to.have.length(0);
  });
});
