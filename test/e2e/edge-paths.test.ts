/** Edge: one normalised path for routes, the cache key and the upstream, whatever spelling the client used. */
import { expect } from 'chai';
import { exchange, startRecordingOrigin, type RecordingOrigin } from '../helpers/raw-http.js';
import { portOf, startProxy, type TestProxy } from '../helpers/loopback.js';
import { normalisePath } from '../../src/core/path.js';

const get = (target: string, host = 'a') => `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

describe('edge: path normalisation (reverse)', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  let port: number;
  const start = async (paths: Record<string, unknown> = {}) => {
    proxy = await startProxy({
      reverse: [{
        paths,
        routes: [
          { name: 'admin', match: { path_prefix: '/admin' }, respond: { status: 403, body: 'no' } },
          { name: 'app', match: {}, pool: 'app', cache: true },
        ],
      }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
    port = portOf(proxy.url());
  };
  beforeEach(async () => { origin = await startRecordingOrigin(); });
  afterEach(async () => { await proxy?.close(); await origin.close(); });

  const toAdmin = [
    '/public/../admin', '/%2e%2e/admin', '/%2E%2E/admin', '/./admin', '//admin', '/%61dmin', '/%2e/admin',
    '/public/%2e%2e/admin', '/a/b/../../admin', '/../admin', '/.%2e/admin', '///admin/x', '/admin;jsessionid=1',
    '/public/..;/admin', '/ADMIN/../admin', '/admin/.', 'http://a/public/../admin', 'http://a//admin', 'http://a/%61dmin',
  ];
  for (const target of toAdmin) {
    it(`routes ${target} as /admin (403), in origin and absolute form alike`, async () => {
      await start();
      const { responses } = await exchange(port, get(target));
      expect(responses.map((r) => r.status)).to.deep.equal([403]);
      expect(origin.requests).to.have.length(0);
    });
  }

  const forwarded: [string, string][] = [
    ['/public/./x/../y', '/public/y'],
    ['/%7euser/%41b', '/~user/Ab'],
    ['/a%2fb', '/a%2Fb'],
    ['/a%2Fb/../c', '/a%2Fb/../c'.replace('/a%2Fb/../c', '/c')],
    ['/a/%2e%2e%2fadmin', '/a/..%2Fadmin'],
    ['/q?x=/../admin&y=%2e', '/q?x=/../admin&y=%2e'],
    ['/x//y', '/x/y'],
    ['/x/', '/x/'],
    ['/x/y;v=1/z', '/x/y;v=1/z'],
    ['/%e2%82%ac', '/%E2%82%AC'],
    ['/a\\b', '/a\\b'],
  ];
  for (const [target, sent] of forwarded) {
    it(`sends ${target} upstream as ${sent}`, async () => {
      await start();
      const { responses } = await exchange(port, get(target));
      expect(responses.map((r) => r.status)).to.deep.equal([200]);
      expect(origin.requests.map((r) => r.target)).to.deep.equal([sent]);
    });
  }

  for (const target of ['/a%00b', '/a%0ab', '/a%7fb', '/a%zzb', '/a%2', '/a%']) {
    it(`answers 400 to ${target}`, async () => {
      await start();
      const { responses } = await exchange(port, get(target));
      expect(responses.map((r) => r.status)).to.deep.equal([400]);
      expect(origin.requests).to.have.length(0);
    });
  }

  const targets: [string, number, string?][] = [
    ['OPTIONS *', 400], ['GET *', 400], ['GET example.com:80', 400], ['GET ftp://a/x', 400], ['GET x', 400],
    ['GET http://[::1]:80/x', 200, '/x'], ['GET HTTP://A/x', 200, '/x'], ['GET http://a', 200, '/'], ['GET http://a?q=1', 200, '/?q=1'],
    ['GET //evil.example/x', 200, '/evil.example/x'],
  ];
  for (const [line, status, sent] of targets) {
    it(`request-target form: ${line} is ${status}${sent ? `, sent as ${sent}` : ''}`, async () => {
      await start();
      const { responses } = await exchange(port, `${line} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      expect(responses.map((r) => r.status)).to.deep.equal([status]);
      expect(origin.requests.map((r) => r.target)).to.deep.equal(sent ? [sent] : []);
    });
  }

  it('keeps repeated slashes when merge_slashes is off (dot segments still resolved)', async () => {
    await start({ merge_slashes: false });
    await exchange(port, get('/x//y/./z'));
    expect(origin.requests.map((r) => r.target)).to.deep.equal(['/x//y/z']);
  });

  it('refuses %2F and %5C with escaped_slashes: reject', async () => {
    await start({ escaped_slashes: 'reject' });
    for (const t of ['/a%2Fb', '/a%5cb']) expect((await exchange(port, get(t))).responses.map((r) => r.status)).to.deep.equal([400]);
    expect((await exchange(port, get('/a/b'))).responses.map((r) => r.status)).to.deep.equal([200]);
  });

  it('decodes %2F and %5C with escaped_slashes: decode, and routes the result', async () => {
    await start({ escaped_slashes: 'decode' });
    expect((await exchange(port, get('/public%2F..%2Fadmin'))).responses.map((r) => r.status)).to.deep.equal([403]);
    await exchange(port, get('/a%2Fb%5Cc'));
    expect(origin.requests.map((r) => r.target)).to.deep.equal(['/a/b/c']);
  });

  it('keys the cache on the normalised path: two spellings, one origin request', async () => {
    origin = await startRecordingOrigin(() => 'HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 2\r\n\r\nhi');
    await start();
    await exchange(port, get('/c/x'));
    const second = await exchange(port, get('/c/./y/../%78'));
    expect(second.responses.map((r) => [r.status, r.headers['cache-status'] ?? '']).map(([s, c]) => [s, /hit/.test(String(c))])).to.deep.equal([[200, true]]);
    expect(origin.requests.map((r) => r.target)).to.deep.equal(['/c/x']);
  });
});

describe('edge: path normalisation (forward)', () => {
  let origin: RecordingOrigin;
  let proxy: TestProxy;
  before(async () => {
    origin = await startRecordingOrigin();
    proxy = await startProxy({ forward: [{ block_urls: ['/ads/*'], allow_private_destinations: true }] });
  });
  after(async () => { await proxy.close(); await origin.close(); });

  for (const path of ['/x/../ads/1', '/%61ds/1', '//ads/1', '/./ads/1', '/%2e%2e/ads/1', '/x\\..\\ads\\1']) {
    it(`blocks ${path} by the /ads/* pattern`, async () => {
      const { responses } = await exchange(portOf(proxy.forwardUrl()), get(`http://127.0.0.1:${origin.port}${path}`, `127.0.0.1:${origin.port}`));
      expect(responses.map((r) => r.status)).to.deep.equal([403]);
    });
  }

  it('sends the URL as the client wrote it when no pattern matches (as Squid)', async () => {
    await exchange(portOf(proxy.forwardUrl()), get(`http://127.0.0.1:${origin.port}/x/./y/%7e//z`, `127.0.0.1:${origin.port}`));
    expect(origin.requests.at(-1)!.target).to.equal('/x/./y/%7e//z');
  });
});

describe('core/path normalisePath', () => {
  const o = { mergeSlashes: true, escapedSlashes: 'keep' } as const;
  it('follows RFC 3986 §5.2.4 examples', () => {
    expect(normalisePath('/a/b/c/./../../g', o)).to.equal('/a/g');
    expect(normalisePath('/mid/content=5/../6', o)).to.equal('/mid/6');
    expect(normalisePath('/..', o)).to.equal('/');
    expect(normalisePath('/a/..', o)).to.equal('/');
    expect(normalisePath('/a/b/..', o)).to.equal('/a/');
  });
  it('leaves ordinary paths untouched (same string)', () => {
    const p = '/static/app.min.js?v=1.2';
    expect(normalisePath(p, o)).to.equal(p);
  });
});
