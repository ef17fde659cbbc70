import { expect } from 'chai';
import { cacheRig, status, type CacheRig } from '../helpers/cache-origin.js';
import { send } from '../helpers/http-client.js';

const cacheable = (_q: unknown, res: import('node:http').ServerResponse) => { res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end('c'); };

describe('cache: invalidation, purge, metrics', () => {
  let rig: CacheRig;
  before(async () => { rig = await cacheRig({ top: { admin: { listen: '127.0.0.1:0', token: 'sekrit' } } }); });
  after(async () => { await rig.close(); });

  async function storedNow(path: string): Promise<boolean> {
    return status((await send(rig.url(path), { headers: { 'cache-control': 'only-if-cached' } })).headers).includes('hit');
  }

  it('a successful POST, PUT, DELETE or PATCH invalidates the target URI', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const path = `/inv-${method.toLowerCase()}`;
      rig.on(path, (req, res) => { if (req.method === 'GET') cacheable(req, res); else { res.writeHead(204); res.end(); } });
      await send(rig.url(path));
      expect(await storedNow(path)).to.equal(true);
      const r = await send(rig.url(path), method === 'DELETE' ? { method } : { method, body: 'x' });
      expect(status(r.headers)).to.equal('gatehouse; fwd=method');
      expect(await storedNow(path), method).to.equal(false);
    }
  });

  it('invalidates Location and Content-Location of the same origin only, and not on an error status', async () => {
    for (const p of ['/a', '/b', '/c']) rig.on(p, cacheable);
    rig.on('/post', (_q, res) => { res.writeHead(201, { location: '/a', 'content-location': 'http://elsewhere.example/c' }); res.end(); });
    rig.on('/fail', (_q, res) => { res.writeHead(500); res.end(); });
    for (const p of ['/a', '/b', '/c', '/fail']) await send(rig.url(p));
    rig.on('/fail', cacheable);
    await send(rig.url('/fail'));
    await send(rig.url('/post'), { method: 'POST', body: '{}' });
    expect(await storedNow('/a')).to.equal(false);
    expect(await storedNow('/c')).to.equal(true);
    rig.on('/fail-post', (_q, res) => { res.writeHead(500, { location: '/b' }); res.end(); });
    await send(rig.url('/fail-post'), { method: 'POST' });
    expect(await storedNow('/b')).to.equal(true);
  });

  it('PURGE from an allowed address removes every variant of the URI', async () => {
    rig.on('/purge-me', (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language' }); res.end(String(req.headers['accept-language'])); });
    await send(rig.url('/purge-me'), { headers: { 'accept-language': 'en' } });
    await send(rig.url('/purge-me'), { headers: { 'accept-language': 'fr' } });
    const p = await send(rig.url('/purge-me'), { method: 'PURGE' });
    expect(p.status).to.equal(200);
    expect(JSON.parse(p.body)).to.deep.equal({ purged: 2 });
    expect((await send(rig.url('/purge-me'), { method: 'PURGE' })).status).to.equal(404);
    await send(rig.url('/purge-me'), { headers: { 'accept-language': 'en' } });
    expect(rig.seen('/purge-me')).to.have.length(3);
    expect(rig.seen('/purge-me').every((r) => r.method === 'GET')).to.equal(true);
  });

  it('admin POST /cache/purge by url or prefix, token-protected', async () => {
    for (const p of ['/adm/one', '/adm/two', '/other']) { rig.on(p, cacheable); await send(rig.url(p)); }
    const admin = rig.proxy.adminUrl();
    const post = (body: unknown, token = 'sekrit') => send(`${admin}/cache/purge`, {
      method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    });
    expect((await post({ url: rig.url('/adm/one') }, 'wrong')).status).to.equal(401);
    expect(await storedNow('/adm/one')).to.equal(true);
    expect(JSON.parse((await post({ url: rig.url('/adm/one') })).body)).to.deep.equal({ purged: 1 });
    expect(await storedNow('/adm/one')).to.equal(false);
    expect(JSON.parse((await post({ prefix: '/adm/' })).body)).to.deep.equal({ purged: 1 });
    expect(await storedNow('/adm/two')).to.equal(false);
    expect(await storedNow('/other')).to.equal(true);
    expect(JSON.parse((await post({ prefix: rig.proxy.url() })).body).purged).to.be.above(0);
    expect(await storedNow('/other')).to.equal(false);
    expect((await post({ url: 'not a url' })).status).to.equal(400);
  });

  it('exports lookup counts, bytes and entries in /metrics and /status', async () => {
    rig.on('/m', cacheable);
    await send(rig.url('/m'));
    await send(rig.url('/m'));
    const metrics = (await send(`${rig.proxy.adminUrl()}/metrics`)).body;
    expect(metrics).to.match(/gatehouse_cache_lookups_total\{result="hit"\} [1-9]/);
    expect(metrics).to.match(/gatehouse_cache_lookups_total\{result="uri-miss"\} [1-9]/);
    expect(metrics).to.match(/gatehouse_cache_bytes [1-9]/);
    expect(metrics).to.match(/gatehouse_cache_entries [1-9]/);
    const st = JSON.parse((await send(`${rig.proxy.adminUrl()}/status`)).body) as { cache: { entries: number; bytes: number } };
    expect(st.cache.entries).to.be.above(0);
    expect(st.cache.bytes).to.be.above(0);
  });
});

describe('cache: PURGE outside purge_acl', () => {
  it('is refused with 403 and purges nothing', async () => {
    const rig = await cacheRig();
    try {
      const cfg = structuredClone(rig.proxy.gateway.config);
      cfg.reverse[0]!.purge_acl = ['10.0.0.0/8'];
      await rig.proxy.gateway.reload(cfg);
      rig.on('/keep', cacheable);
      await send(rig.url('/keep'));
      const p = await send(rig.url('/keep'), { method: 'PURGE' });
      expect(p.status).to.equal(403);
      expect(status((await send(rig.url('/keep'))).headers)).to.match(/hit/);
      expect(rig.seen('/keep')).to.have.length(1);
    } finally { await rig.close(); }
  });
});
