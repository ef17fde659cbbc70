/** A client that leaves while a plugin decides: nothing goes upstream, and the pool stays usable. */
import { expect } from 'chai';
import { connect } from 'node:net';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { waitFor } from '../helpers/load.js';
import { PluginDir } from '../unit/plugins/plugin-fixtures.js';

describe('plugins e2e: a client that leaves while a plugin decides', function () {
  this.timeout(30_000);
  const dir = new PluginDir();
  let origin: Origin;
  let proxy: TestProxy;

  before(async () => {
    // 400 ms of wall time on /slow: long after the client below has gone
    dir.write('slow.js', "export function onRequest(r) { if (r.path === '/slow') { const end = Date.now() + 400; while (Date.now() < end) {} } }");
    origin = await startOrigin('ok');
    proxy = await startProxy({
      plugins: { dir: dir.dir, watch: false, cpu_limit: '5s', timeout: '5s' },
      reverse: [{ routes: [{ match: {}, pool: 'app', plugins: ['slow.js'] }] }],
      pools: { app: { keepalive: 1, upstreams: [{ url: origin.url }] } },
    });
  });
  after(async () => { await proxy.close(); await origin.close(); dir.remove(); });

  it('sends nothing upstream for 5 clients gone, then answers the next request', async () => {
    const port = Number(new URL(proxy.url()).port);
    const left: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      left.push(new Promise((resolve) => {
        // gone once its request is surely read (the proxy runs in this process) and long before its
        // plugin call ends: the calls run one after another in one plugin process, 400 ms each
        const s = connect(port, '127.0.0.1', () => s.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n', () => {
          setTimeout(() => { s.destroy(); resolve(); }, 100);
        }));
      }));
    }
    await Promise.all(left);
    // every plugin call has answered by now (5 × 400 ms in one process), and none went upstream
    expect(await waitFor(() => proxy.logs.filter((l) => l.msg === 'access' && l.status === 499).length === 5, 20_000)).to.equal(true);
    // each request is over once logged: none can go upstream any more
    expect(origin.seen.length).to.equal(0);
    const r = await fetch(`${proxy.url()}/fine`);
    expect([r.status, await r.text()]).to.deep.equal([200, 'ok']);
  });
});
