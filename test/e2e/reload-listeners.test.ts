/** Hot reload keeps listeners by address, also when several share one listen string (`127.0.0.1:0`). */
import { expect } from 'chai';
import { buildConfig } from '../../src/config/load.js';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';

describe('reload: listeners kept by address', () => {
  let origin: Origin;
  let proxy: TestProxy;
  afterEach(async () => { await proxy?.close(); await origin?.close(); });

  it('two listeners on 127.0.0.1:0 are both kept, in order, and none is left running outside the gateway', async () => {
    origin = await startOrigin('ok');
    const listener = (name: string) => ({ listen: '127.0.0.1:0', routes: [{ match: {}, respond: { status: 200, body: name } }] });
    const config = { reverse: [listener('one'), listener('two')], forward: [{ listen: '127.0.0.1:0' }, { listen: '127.0.0.1:0' }] };
    proxy = await startProxy(config);
    const ports = () => proxy.gateway.reverseListeners.map((l) => l.listener.address.port);
    const forwardPorts = () => proxy.gateway.forwardListeners.map((l) => l.listener.address.port);
    const [before, forwardBefore] = [ports(), forwardPorts()];
    const next = structuredClone(config);
    next.reverse[1]!.routes[0]!.respond.body = 'two, reloaded';
    await proxy.gateway.reload(buildConfig({ ...next, admin: { listen: '' }, node_id: 'gh-test' }, { env: {} }));
    expect(ports()).to.deep.equal(before);
    expect(forwardPorts()).to.deep.equal(forwardBefore);
    expect(await (await fetch(`http://127.0.0.1:${before[0]}/`)).text()).to.equal('one');
    expect(await (await fetch(`http://127.0.0.1:${before[1]}/`)).text()).to.equal('two, reloaded');
    await proxy.close();
    // after the gateway stops, nothing it ever started still listens
    for (const port of [...before, ...forwardBefore]) {
      expect(await fetch(`http://127.0.0.1:${port}/`).then(() => 'open', () => 'closed'), `port ${port}`).to.equal('closed');
    }
  });
});

describe('reload: upstreams kept only while their connection settings stay', () => {
  let proxy: TestProxy;
  afterEach(async () => { await proxy?.close(); });

  it('a new weight keeps the upstream (and its counters); a new response_timeout or keepalive makes a new one', async () => {
    const config = (pool: Record<string, unknown>) => ({
      admin: { listen: '' }, node_id: 'gh-test',
      reverse: [{ listen: '127.0.0.1:0', routes: [{ match: {}, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: 'http://127.0.0.2:9', weight: 1 }], ...pool } },
    });
    proxy = await startProxy(config({}));
    const upstream = () => proxy.gateway.pools.get('app')!.upstreams[0]!;
    const first = upstream();
    first.requests = 7;
    const weighted = config({});
    (weighted.pools.app.upstreams[0] as { weight: number }).weight = 3;
    await proxy.gateway.reload(buildConfig(weighted, { env: {} }));
    expect(upstream()).to.equal(first);
    expect(upstream().configuredWeight).to.equal(3);
    await proxy.gateway.reload(buildConfig(config({ response_timeout: '7s' }), { env: {} }));
    expect(upstream(), 'response_timeout is in its connection pool: a new upstream').to.not.equal(first);
    const second = upstream();
    await proxy.gateway.reload(buildConfig(config({ response_timeout: '7s', keepalive: 3 }), { env: {} }));
    expect(upstream(), 'keepalive sizes its slots: a new upstream').to.not.equal(second);
    expect(upstream().slots.size).to.equal(3);
  });
});
