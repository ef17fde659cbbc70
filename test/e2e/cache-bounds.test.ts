import { expect } from 'chai';
import { request } from 'node:http';
import { once } from 'node:events';
import { cacheRig, status, type CacheRig } from '../helpers/cache-origin.js';
import { send } from '../helpers/http-client.js';

describe('cache: bounds, streaming and truncation', () => {
  let rig: CacheRig;
  before(async () => { rig = await cacheRig({ top: { cache: { max_size: '64KB', max_object_size: '4KB' } } }); });
  after(async () => { await rig.close(); });

  it('streams an object over max_object_size through uncached (known length)', async () => {
    rig.on('/big', (_q, res) => { res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': 10_000 }); res.end(Buffer.alloc(10_000, 'b')); });
    const a = await send(rig.url('/big'));
    expect(a.body).to.have.length(10_000);
    expect(status(a.headers)).to.include('detail=too-large');
    await send(rig.url('/big'));
    expect(rig.seen('/big')).to.have.length(2);
  });

  it('drops the copy of a chunked body once it passes max_object_size, still sending all of it', async () => {
    rig.on('/big-chunked', (_q, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1000, 'c'));
      res.end();
    });
    expect((await send(rig.url('/big-chunked'))).body).to.have.length(10_000);
    expect((await send(rig.url('/big-chunked'))).body).to.have.length(10_000);
    expect(rig.seen('/big-chunked')).to.have.length(2);
  });

  it('streams to the first client before the origin finishes, and stores what it streamed (fetched once)', async () => {
    let finish!: () => void;
    const gate = new Promise<void>((r) => { finish = r; });
    rig.on('/stream', (_q, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=600' });
      res.write('first-half;');
      void gate.then(() => res.end('second-half'));
    });
    const entries = () => rig.proxy.gateway.cache.stats().entries;
    const before = entries();
    let ended!: Promise<unknown>;
    const firstChunk = await new Promise<string>((resolve, reject) => {
      const r = request(rig.url('/stream'), { agent: false }, (res) => {
        ended = once(res, 'end');
        res.setEncoding('utf8');
        res.once('data', (d: string) => { resolve(d); finish(); });
        res.resume();
      });
      r.on('error', reject);
      r.end();
    });
    expect(firstChunk).to.equal('first-half;');
    // the second request comes once the first is stored, however long a loaded machine takes
    await ended;
    for (const end = Date.now() + 15_000; entries() === before && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    const b = await send(rig.url('/stream'));
    expect(b.body).to.equal('first-half;second-half');
    expect(status(b.headers)).to.match(/hit/);
    expect(rig.seen('/stream')).to.have.length(1);
  });

  for (const [name, framing] of [['fewer bytes than Content-Length', { 'content-length': '100' }], ['a reset mid chunked body', {}]] as const) {
    it(`never stores a truncated response: ${name}`, async () => {
      const path = `/trunc-${Object.keys(framing).length}`;
      rig.on(path, (_q, res, n) => {
        res.writeHead(200, { 'cache-control': 'max-age=600', ...framing });
        if (n > 1) { res.end(framing['content-length' as keyof typeof framing] ? 'x'.repeat(100) : 'whole'); return; }
        res.write('x'.repeat(50));
        setTimeout(() => res.socket?.destroy(), 20);
      });
      const first = await send(rig.url(path)).then(() => 'completed', (e: Error) => e.message);
      expect(first).to.not.equal('completed');
      await send(rig.url(path));
      expect(rig.seen(path)).to.have.length(2);
    });
  }

  it('keeps the bytes held at or under max_size, evicting the least recently used', async () => {
    rig.on('/fill', (req, res) => { res.writeHead(200, { 'cache-control': 'max-age=600' }); res.end(Buffer.alloc(3000, req.url!.length)); });
    for (let i = 0; i < 40; i++) await send(rig.url(`/fill?i=${i}`));
    const s = rig.proxy.gateway.cache.stats();
    expect(s.bytes).to.be.at.most(64 * 1024);
    expect(s.entries).to.be.below(40);
    expect(s.entries).to.be.above(10);
    expect(status((await send(rig.url('/fill?i=39'))).headers)).to.match(/hit/);
    expect(status((await send(rig.url('/fill?i=0'))).headers)).to.match(/miss/);
  });
});
