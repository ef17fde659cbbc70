/**
 * Parent proxy chaining: a child Gatehouse forward listener sends HTTP (absolute-form) and CONNECT
 * through a parent Gatehouse forward listener that requires credentials; direct_domains bypass it.
 */
import { expect } from 'chai';
import { createRequire } from 'node:module';
import { basic, curl, hasCurl, scratch, startTlsOrigin, stubLookup, viaProxy, type TlsOrigin } from '../helpers/forward.js';
import { forwardPortOf, logLine, startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';

const aprMd5 = createRequire(import.meta.url)('apache-md5') as (password: string) => string;
describe('forward proxy: parent proxy chaining', () => {
  let origin: Origin;
  let tlsOrigin: TlsOrigin;
  let parent: TestProxy;
  let child: TestProxy;
  before(async () => {
    origin = await startOrigin((req, res) => res.end(`via=${req.headers.via} auth=${req.headers['proxy-authorization'] ?? 'none'}`));
    tlsOrigin = await startTlsOrigin(['secure.test'], (_q, s) => s.end('tls through two proxies'));
    const users = scratch().write('users', `child:${aprMd5('s3cret')}\n`);
    parent = await startProxy({
      node_id: 'parent',
      forward: [{
        auth: { users_file: users }, acl: [{ name: 'children', allow: { user: ['child'] } }],
        allow_destinations: [`127.0.0.1:${origin.port}`, `127.0.0.1:${tlsOrigin.port}`], connect_ports: [tlsOrigin.port],
      }],
    }, { forwardLookup: stubLookup({ 'app.test': '127.0.0.1', 'secure.test': '127.0.0.1' }) });
    child = await startProxy({
      node_id: 'child',
      forward: [{
        parent: `http://child:s3cret@127.0.0.1:${forwardPortOf(parent)}`, direct_domains: ['*.direct.test'], connect_ports: [tlsOrigin.port], cache: false,
      }],
    }, { forwardLookup: stubLookup({ 'x.direct.test': '127.0.0.1' }) });
  });
  after(async () => { await child.close(); await parent.close(); await origin.close(); await tlsOrigin.close(); });

  it('sends HTTP through the parent with its credentials, never the client’s', async () => {
    const r = await viaProxy(forwardPortOf(child), `http://app.test:${origin.port}/chained`, { headers: { 'proxy-authorization': basic('client', 'pw') } });
    expect(r.status).to.equal(200);
    // the parent consumed its own Proxy-Authorization; the origin sees both hops in Via
    expect(r.body).to.equal('via=1.1 child, 1.1 parent auth=none');
    expect(await logLine(parent.logs, (l) => l.msg === 'access' && l.status === 200)).to.include({ user: 'child', rule: 'children' });
    expect(await logLine(child.logs, (l) => l.msg === 'access')).to.include({ upstream: `parent http://127.0.0.1:${forwardPortOf(parent)}` });
  });

  it('opens CONNECT tunnels through the parent; the client verifies the origin end to end', async function () {
    if (!hasCurl) return this.skip();
    const r = await curl(['-x', child.forwardUrl(), '--cacert', tlsOrigin.caFile, `https://secure.test:${tlsOrigin.port}/`]);
    expect(r.exitCode, r.stderr).to.equal(0);
    expect(r.body).to.equal('tls through two proxies');
    // a tunnel is logged when it closes, a moment after curl's exit
    expect(await logLine(parent.logs, (l) => l.method === 'CONNECT')).to.include({ status: 200, user: 'child' });
  });

  it('reaches direct_domains without the parent (and with the local SSRF guard)', async () => {
    const before = parent.logs.length;
    const r = await viaProxy(forwardPortOf(child), `http://x.direct.test:${origin.port}/`);
    // direct: the child's own guard refuses the loopback address; the parent never saw it
    expect(r.status).to.equal(403);
    expect(r.headers['proxy-status']).to.match(/destination_ip_prohibited/);
    expect(parent.logs.slice(before).filter((l) => l.msg === 'access')).to.have.length(0);
  });

  it('answers 502 when the parent refuses the tunnel', async () => {
    const wrong = await startProxy({ forward: [{ parent: `http://child:wrong@127.0.0.1:${forwardPortOf(parent)}`, connect_ports: [tlsOrigin.port] }] });
    try {
      const r = await viaProxy(forwardPortOf(wrong), `secure.test:${tlsOrigin.port}`, { method: 'CONNECT' });
      expect(r.status).to.equal(502);
      expect(String(r.headers['proxy-status'])).to.include('parent proxy answered 407');
    } finally { await wrong.close(); }
  });
});
