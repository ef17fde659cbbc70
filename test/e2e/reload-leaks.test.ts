/**
 * Reloads must not leak: 100 reloads through the path SIGHUP and POST /reload use (reloadFromFile) leave
 * as many live timers, file watchers and sockets as before. Counted with an async hook (init/destroy by
 * type), because unref'd timers and non-persistent watchers do not show in process.getActiveResourcesInfo().
 */
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import { createHook } from 'node:async_hooks';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { reloadFromFile } from '../../src/cli/reload-from-file.js';
import { memoryLogger, startOrigin, type Origin } from '../helpers/loopback.js';
import { scratch } from '../helpers/forward.js';
import { makeCertDir } from '../unit/tls/fixtures.js';
import { send } from '../helpers/http-client.js';
import { freePort, ownAddress, ownUrl } from '../helpers/addresses.js';
import { waitFor } from '../helpers/load.js';

/** Resource types a reload could start and forget (timers, fs watchers, servers, sockets, child processes). */
const LONG_LIVED = /^(Timeout|FSEVENTWRAP|STATWATCHER|TCPSERVERWRAP|TCPWRAP|PIPEWRAP|PROCESSWRAP|TLSWRAP)$/;

function liveResources() {
  const live = new Map<number, string>();
  const hook = createHook({
    init(id, type) { if (LONG_LIVED.test(type)) live.set(id, type); },
    destroy(id) { live.delete(id); },
  });
  return {
    hook,
    counts(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const type of live.values()) out[type] = (out[type] ?? 0) + 1;
      return out;
    },
  };
}

describe('reload: 100 reloads leave no timers, watchers or sockets behind', function () {
  this.timeout(60_000);
  let origin: Origin;
  let certs: Awaited<ReturnType<typeof makeCertDir>>;

  before(async () => {
    origin = await startOrigin('site');
    certs = await makeCertDir();
  });
  after(async () => { await origin?.close(); await certs?.cleanup(); });

  it('counts the same live resources by type before and after 100 POST /reload', async () => {
    const files = scratch();
    const users = files.write('users', `alice:${bcrypt.hashSync('wonder', 4)}\n`);
    const blocks = files.write('blocks.txt', 'ads.example\n');
    // distinct fixed addresses: a reload keeps a listener by its address
    const [a, b, c, d] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const yaml = `
node_id: leak-test
shutdown_timeout: 1s
admin: { listen: "127.0.0.1:0" }
pools:
  app:
    upstreams: [{ url: "${origin.url}" }]
    health: { path: /, interval: 1h }
    passive: { max_failures: 3 }
  raw:
    upstreams: [{ url: "tcp://127.0.0.1:${origin.port}" }]
    health: { interval: 1h }
reverse:
  - listen: "${ownAddress(a)}"
    limits: { rate: { per_ip: 1000 } }
    routes: [{ match: {}, pool: app, cache: true }]
  - listen: "${ownAddress(b)}"
    tls: { certs: [{ cert: "${join(certs.dir, 'a.pem')}", key: "${join(certs.dir, 'a.key')}" }] }
    limits: { rate: { per_ip: 1000 } }
    routes: [{ match: {}, pool: app }]
tcp:
  - { listen: "${ownAddress(d)}", pool: raw }
forward:
  - listen: "${ownAddress(c)}"
    limits: { rate: { per_ip: 1000 } }
    cache: true
    auth: { users_file: "${users}" }
    block_lists: ["${blocks}"]
    acl: [{ allow: {} }]
`;
    const file = files.write('gatehouse.yaml', yaml);
    const config = loadConfig(file);
    const { log } = memoryLogger('warn');
    const gateway: Gateway = new Gateway(config, log, () => reloadFromFile(file, gateway, log));
    const resources = liveResources();
    resources.hook.enable();
    try {
      await gateway.start();
      const admin = `http://127.0.0.1:${gateway.adminAddress!.port}`;
      const reload = async () => {
        const res = await send(`${admin}/reload`, { method: 'POST' });
        expect(res.status, res.body).to.equal(200);
      };
      const site = `${ownUrl(a)}/`;
      expect((await send(site)).status).to.equal(200);
      // once first: whatever a first reload creates once (and keeps) is not a leak
      await reload();
      const before = resources.counts();
      for (let i = 0; i < 100; i++) await reload();
      expect((await send(site)).status).to.equal(200);
      // a fired timer or a closed socket reports its end a little later, and a request or reload has short
      // timers of its own: wait (up to 5 s) for every type to come back to its count, a leak never does
      const noMore = () => Object.entries(resources.counts()).every(([type, n]) => n <= (before[type] ?? 0));
      await waitFor(noMore, 5000, 50);
      const after = resources.counts();
      for (const [type, n] of Object.entries(after)) expect(n, `${type}: ${JSON.stringify({ before, after })}`).to.be.at.most(before[type] ?? 0);
    } finally {
      resources.hook.disable();
      await gateway.stop();
    }
  });
});
