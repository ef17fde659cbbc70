/** Layer-4 listeners: raw TCP balanced over a pool with real echo servers, failover, TCP health checks, idle timeout. */
import { expect } from 'chai';
import net, { type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { logLine, startProxy, type TestProxy } from '../helpers/loopback.js';
import { freePort, OWN_HOST, refusedUrl } from '../helpers/addresses.js';
import { runLoad, tally, waitFor } from '../helpers/load.js';
import { buildConfig } from '../../src/config/load.js';

interface Echo { name: string; port: number; server: Server; sockets: Set<Socket>; close(): Promise<void> }

/** Answers `name:` then echoes everything back; ends when the client ends. */
async function echoServer(name: string): Promise<Echo> {
  const sockets = new Set<Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
    s.write(`${name}:`);
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    name, server, sockets, port: (server.address() as AddressInfo).port,
    close: async () => { for (const s of sockets) s.destroy(); await new Promise((r) => server.close(r)); },
  };
}

/** Sends `payload`, half-closes, and collects everything until the proxy closes. */
async function roundTrip(port: number, payload: string | Buffer): Promise<string> {
  const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.on('error', () => {}); // a refused connection may be reset: the answer is what arrived
  const closed = new Promise((r) => s.once('close', r));
  await once(s, 'connect');
  s.end(payload);
  await closed;
  return Buffer.concat(chunks).toString();
}

describe('e2e: TCP (layer 4) balancing', function () {
  this.timeout(20_000);
  let echoes: Echo[] = [];
  let proxy: TestProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    await Promise.all(echoes.map((e) => e.close()));
  });
  const tcpPort = () => proxy!.gateway.tcpListeners[0]!.address.port;
  const access = () => proxy!.logs.filter((l) => l.msg === 'access' && l.mode === 'tcp');

  it('balances connections round-robin over tcp:// upstreams and pipes large payloads intact both ways', async () => {
    echoes = await Promise.all(['a', 'b', 'c'].map(echoServer));
    proxy = await startProxy({
      tcp: [{ pool: 'db' }],
      pools: { db: { upstreams: echoes.map((e) => ({ url: `tcp://127.0.0.1:${e.port}` })) } },
      admin: { listen: '127.0.0.1:0' },
    });
    const answers = await runLoad(30, 6, (i) => roundTrip(tcpPort(), `hello-${i}`));
    answers.forEach((a, i) => expect(a.slice(2)).to.equal(`hello-${i}`));
    expect(tally(answers.map((a) => a[0]!))).to.deep.equal({ a: 10, b: 10, c: 10 });
    const big = Buffer.alloc(8 * 1024 * 1024, 'x');
    const echoed = await roundTrip(tcpPort(), big);
    expect(echoed.length).to.equal(big.length + 2);
    await waitFor(() => access().length === 31, 10_000);
    const line = access().at(-1)!;
    expect(line).to.include({ pool: 'db', client: '127.0.0.1', bytes_in: big.length, bytes_out: big.length + 2 });
    expect(line.upstream).to.match(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(line.ms).to.be.a('number');
    const status = await (await fetch(`${proxy.adminUrl()}/status`)).json() as { tcp: { pool: string }[]; pools: { db: { upstreams: { requests: number; active: number }[] } } };
    expect(status.tcp[0]).to.include({ pool: 'db' });
    expect(status.pools.db.upstreams.map((u) => u.requests).reduce((x, y) => x + y)).to.equal(31);
  });

  it('counts an open connection as active on its upstream, and closes idle connections after idle_timeout', async () => {
    echoes = [await echoServer('a')];
    proxy = await startProxy({ tcp: [{ pool: 'db', idle_timeout: '300ms' }], pools: { db: { upstreams: [{ url: `tcp://127.0.0.1:${echoes[0]!.port}` }] } } });
    const s = net.connect({ port: tcpPort(), host: '127.0.0.1' });
    s.on('data', () => {});
    await once(s, 'connect');
    const up = proxy.gateway.pools.get('db')!.upstreams[0]!;
    expect(await waitFor(() => up.inflight === 1, 10_000)).to.equal(true);
    const t0 = Date.now();
    await once(s, 'close');
    expect(Date.now() - t0).to.be.within(200, 10_000);
    expect(await waitFor(() => up.inflight === 0, 10_000)).to.equal(true);
    expect(echoes[0]!.sockets.size).to.equal(0);
  });

  it('fails over: a refused upstream is retried on another; the TCP connect health check marks it down, and up again', async () => {
    echoes = await Promise.all(['a', 'b'].map(echoServer));
    const deadPort = await freePort(); // on this process's own address: free until the test listens on it again
    proxy = await startProxy({
      tcp: [{ pool: 'db' }],
      pools: {
        db: {
          upstreams: [...echoes.map((e) => ({ url: `tcp://127.0.0.1:${e.port}` })), { url: `tcp://${OWN_HOST}:${deadPort}` }],
          health: { interval: '100ms', timeout: '5s', fall: 2, rise: 1 }, retries: 2,
        },
      },
    });
    const answers = await runLoad(30, 3, (i) => roundTrip(tcpPort(), `m${i}`));
    answers.forEach((a, i) => expect(a.slice(2), `connection ${i}`).to.equal(`m${i}`));
    expect(new Set(answers.map((a) => a[0]))).to.deep.equal(new Set(['a', 'b']));
    const fails = proxy.logs.filter((l) => l.msg === 'tcp connect failed');
    expect(fails.length).to.be.above(0);
    expect(fails[0]).to.include({ code: 'ECONNREFUSED', upstream: `tcp://${OWN_HOST}:${deadPort}` });
    expect(access().filter((l) => l.retries === 1).length).to.equal(fails.length);

    expect(await waitFor(() => proxy!.logs.some((l) => l.msg === 'upstream unhealthy'), 10_000)).to.equal(true);
    expect(proxy.logs.find((l) => l.msg === 'upstream unhealthy')).to.include({ pool: 'db', upstream: `tcp://${OWN_HOST}:${deadPort}`, to: 'unhealthy' });
    const failsBefore = proxy.logs.filter((l) => l.msg === 'tcp connect failed').length;
    await runLoad(10, 2, (i) => roundTrip(tcpPort(), `n${i}`));
    expect(proxy.logs.filter((l) => l.msg === 'tcp connect failed').length, 'no attempts on a down upstream').to.equal(failsBefore);

    // it comes back on its port: up after `rise`, and gets connections again
    const back = net.createServer((s) => { s.on('error', () => {}); s.end('dead:'); });
    back.listen(deadPort, OWN_HOST);
    await once(back, 'listening');
    try {
      expect(await waitFor(() => proxy!.logs.some((l) => l.msg === 'upstream healthy'), 10_000)).to.equal(true);
      const again = await runLoad(9, 1, (i) => roundTrip(tcpPort(), `o${i}`));
      expect(tally(again.map((a) => a.split(':')[0]!))).to.deep.equal({ a: 3, b: 3, dead: 3 });
    } finally {
      back.close();
    }
  });

  it('every upstream down: the client connection is closed and logged', async () => {
    proxy = await startProxy({ tcp: [{ pool: 'db' }], pools: { db: { upstreams: [{ url: refusedUrl().replace('http:', 'tcp:') }], retries: 1 } } });
    expect(await roundTrip(tcpPort(), 'x')).to.equal('');
    await waitFor(() => access().length === 1, 10_000);
    expect(access()[0]).to.include({ error: 'connection_refused', tried: 1 });
  });

  it('closes connections over max_connections_per_ip from one address; other addresses still get in; a reload changes the cap', async () => {
    echoes = [await echoServer('a')];
    const config = (perIp: number) => ({ tcp: [{ listen: '127.0.0.1:0', pool: 'db', max_connections_per_ip: perIp }], pools: { db: { upstreams: [{ url: `tcp://127.0.0.1:${echoes[0]!.port}` }] } } });
    proxy = await startProxy(config(2));
    const held = [net.connect(tcpPort(), '127.0.0.1'), net.connect(tcpPort(), '127.0.0.1')];
    await Promise.all(held.map((s) => once(s, 'data'))); // both through to the echo server: 'a:'
    try {
      expect(await roundTrip(tcpPort(), 'third'), 'a third from 127.0.0.1 is closed at once').to.equal('');
      const other = net.connect({ port: tcpPort(), host: '127.0.0.1', localAddress: '127.0.0.3', allowHalfOpen: true });
      const [first] = await once(other, 'data') as [Buffer];
      other.destroy();
      expect(first.toString(), 'another address is served').to.equal('a:');
      expect(await logLine(proxy.logs, (l) => l.msg === 'connection refused: too many from one address')).to.include({ client: '127.0.0.1', max: 2 });
      await proxy.gateway.reload(buildConfig({ ...config(3), admin: { listen: '' }, node_id: 'gh-test' }, { env: {} }));
      expect(await roundTrip(tcpPort(), 'third'), 'the reloaded cap lets a third in').to.equal('a:third');
    } finally {
      held.forEach((s) => s.destroy());
    }
  });

  it('closes connections over max_connections', async () => {
    echoes = [await echoServer('a')];
    proxy = await startProxy({ tcp: [{ pool: 'db', max_connections: 1 }], pools: { db: { upstreams: [{ url: `tcp://127.0.0.1:${echoes[0]!.port}` }] } } });
    const first = net.connect(tcpPort(), '127.0.0.1');
    await once(first, 'data'); // connected through to the echo server: 'a:'
    expect(await roundTrip(tcpPort(), 'second')).to.equal('', 'the second connection is closed at once');
    first.destroy();
    await waitFor(() => proxy!.gateway.tcpListeners[0]!.connections === 0, 10_000);
    expect(await roundTrip(tcpPort(), 'third')).to.equal('a:third');
  });
});
