import { expect } from 'chai';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { send } from '../helpers/http-client.js';

/** A cacheable answer (public, max-age=60) that reflects the headers some frameworks trust. */
function reflecting(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const h = req.headers;
  const body = `url=${h['x-original-url'] ?? req.url} host=${h['x-forwarded-host'] ?? '-'} proto=${h['x-forwarded-proto'] ?? '-'}`;
  res.writeHead(200, { 'cache-control': 'public, max-age=60', 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

describe('cache poisoning through unkeyed request headers', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c(); });
  async function rig(listener: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Promise<{ origin: Origin; proxy: TestProxy }> {
    const origin = await startOrigin(reflecting);
    cleanup.push(origin.close);
    const proxy = await startProxy({
      ...top,
      reverse: [{ ...listener, routes: [{ match: {}, pool: 'app', cache: true }] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
    cleanup.push(proxy.close);
    return { origin, proxy };
  }

  it('strips X-Original-URL and the other override headers by default, so an attacker cannot poison a page', async () => {
    const { origin, proxy } = await rig();
    const overrides = {
      'x-original-url': '/admin', 'x-rewrite-url': '/admin', 'x-override-url': '/admin', 'x-original-host': 'evil.example',
      'x-host': 'evil.example', 'x-forwarded-server': 'evil.example', 'x-http-host-override': 'evil.example',
      'x-http-method-override': 'DELETE', 'x-http-method': 'DELETE', 'x-method-override': 'DELETE',
    };
    const attack = await send(`${proxy.url()}/home`, { headers: { host: 'site.test', ...overrides } });
    expect(attack.body).to.match(/^url=\/home /);
    for (const name of Object.keys(overrides)) expect(origin.seen[0]!.headers[name], name).to.equal(undefined);
    const clean = await send(`${proxy.url()}/home`, { headers: { host: 'site.test' } });
    expect(clean.body).to.match(/^url=\/home /);
  });

  it('forwards them when strip_request_headers says so', async () => {
    const { origin, proxy } = await rig({ strip_request_headers: ['x-http-method-override'] });
    await send(`${proxy.url()}/page`, { headers: { host: 'site.test', 'x-original-url': '/other', 'x-http-method-override': 'PUT' } });
    expect(origin.seen[0]!.headers['x-original-url']).to.equal('/other');
    expect(origin.seen[0]!.headers['x-http-method-override']).to.equal(undefined);
  });

  it('keys the cache on X-Forwarded-Host and -Proto when a trusted peer passes them', async () => {
    const { origin, proxy } = await rig();
    const at = (headers: Record<string, string>) => send(`${proxy.url()}/p`, { headers: { host: 'site.test', ...headers } });
    expect((await at({ 'x-forwarded-host': 'evil.example' })).body).to.equal('url=/p host=evil.example proto=http');
    expect((await at({})).body).to.equal('url=/p host=site.test proto=http');
    expect((await at({ 'x-forwarded-proto': 'https' })).body).to.equal('url=/p host=site.test proto=https');
    expect((await at({ 'x-forwarded-host': 'evil.example' })).body).to.equal('url=/p host=evil.example proto=http');
    expect((await at({})).body).to.equal('url=/p host=site.test proto=http');
    expect(origin.seen).to.have.length(3);
  });

  it('ignores X-Forwarded-Host from an untrusted peer, for the upstream and the key alike', async () => {
    const { origin, proxy } = await rig({}, { trusted_proxies: ['10.9.9.9/32'] });
    const a = await send(`${proxy.url()}/u`, { headers: { host: 'site.test', 'x-forwarded-host': 'evil.example' } });
    expect(a.body).to.equal('url=/u host=site.test proto=http');
    const b = await send(`${proxy.url()}/u`, { headers: { host: 'site.test' } });
    expect(b.body).to.equal('url=/u host=site.test proto=http');
    expect(origin.seen).to.have.length(1);
  });
});
