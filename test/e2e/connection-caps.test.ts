import { expect } from 'chai';
import type { Socket } from 'node:net';
import { startOrigin, startProxy, type TestProxy } from '../helpers/loopback.js';
import { closesWithin, getWithin, openSocket, waitFor } from '../helpers/raw-socket.js';

describe('connection caps per client address', function () {
  this.timeout(60_000);
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });

  async function proxy(limits: Record<string, unknown>): Promise<{ p: TestProxy; port: number }> {
    const o = await startOrigin('ok');
    cleanup.push(o.close);
    const p = await startProxy({ limits, reverse: [{ routes: [{ match: {}, pool: 'app' }] }], pools: { app: { upstreams: [{ url: o.url }] } } });
    cleanup.push(p.close);
    return { p, port: Number(new URL(p.url()).port) };
  }
  /** Opens `n` idle sockets from `from`; returns them once each is either open or closed by the proxy. */
  async function idle(port: number, from: string, n: number): Promise<Socket[]> {
    const sockets: Socket[] = [];
    for (let i = 0; i < n; i++) {
      const s = await openSocket(port, from);
      s.resume();
      cleanup.push(() => { s.destroy(); });
      sockets.push(s);
    }
    return sockets;
  }
  /** Waits until the proxy's reverse listener holds at most `n` connections. */
  async function waitForConnections(p: TestProxy, n: number): Promise<void> {
    const server = p.gateway.reverseListeners[0]!.listener.server;
    const end = Date.now() + 15_000;
    for (;;) {
      const count = await new Promise<number>((resolve) => server.getConnections((_e, c) => resolve(c)));
      if (count <= n) return;
      if (Date.now() > end) throw new Error(`the proxy holds ${count} connections, not ${n}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  async function stayOpen(sockets: Socket[]): Promise<boolean[]> {
    return (await Promise.all(sockets.map((s) => closesWithin(s, 300)))).map((closed) => !closed);
  }
  const openCount = (sockets: Socket[]) => sockets.filter((s) => !s.destroyed).length;

  it('closes connections over max_connections_per_ip, so one address cannot lock others out', async () => {
    const { p, port } = await proxy({ max_connections: 20, max_connections_per_ip: 5 });
    const attack = await idle(port, '127.0.0.2', 25);
    await waitFor(() => openCount(attack) === 5, 5000, 'the proxy to close the surplus');
    const r = await getWithin(`${p.url()}/`, 15_000);
    expect([r.status, r.body]).to.deep.equal([200, 'ok']);
    const other = await idle(port, '127.0.0.3', 5);
    expect(await stayOpen(other)).to.deep.equal([true, true, true, true, true]);
    // the slots come back when the attacker's sockets close
    for (const s of attack) s.destroy();
    await waitForConnections(p, 6); // the 5 others and fetch's keep-alive connection
    const again = await idle(port, '127.0.0.2', 5);
    expect(await stayOpen(again)).to.deep.equal([true, true, true, true, true]);
  });

  it('does not count addresses in per_ip_exempt', async () => {
    const { p, port } = await proxy({ max_connections: 50, max_connections_per_ip: 2, per_ip_exempt: ['127.0.0.4/32'] });
    const exempt = await idle(port, '127.0.0.4', 6);
    const counted = await idle(port, '127.0.0.5', 6);
    await waitFor(() => openCount(counted) === 2, 5000, 'the proxy to close the surplus');
    expect((await stayOpen(exempt)).every(Boolean)).to.equal(true);
    expect((await getWithin(`${p.url()}/`, 15_000)).status).to.equal(200);
  });

  it('at the global cap refuses the newest connection and keeps established ones', async () => {
    const { p, port } = await proxy({ max_connections: 6, max_connections_per_ip: 3 });
    const first = await idle(port, '127.0.0.6', 3);
    const second = await idle(port, '127.0.0.7', 3);
    const [late] = await idle(port, '127.0.0.8', 1);
    expect(await closesWithin(late!, 15_000)).to.equal(true, 'the newest connection is refused');
    expect(openCount([...first, ...second])).to.equal(6);
    first[0]!.destroy();
    await waitForConnections(p, 5);
    const r = await getWithin(`${p.url()}/`, 15_000);
    expect(r.status).to.equal(200);
  });
});
