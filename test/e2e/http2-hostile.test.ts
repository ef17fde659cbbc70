import { expect } from 'chai';
import { connect as h2connect } from 'node:http2';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';
import { CODE, FLAG, FRAME, frame, getFields, headerBlock, RawH2 } from '../helpers/h2-raw.js';

const run = promisify(execFile);

/** Whether the proxy still serves a fresh HTTP/2 connection (a flood ends one connection, not the listener). */
async function stillServes(port: number): Promise<number> {
  const session = h2connect(`http://127.0.0.1:${port}`);
  try {
    const stream = session.request({ ':path': '/fine', ':authority': 'h2.test' });
    const [head] = await once(stream, 'response') as [Record<string, unknown>];
    stream.resume();
    return Number(head[':status']);
  } finally { session.close(); }
}

describe('HTTP/2 downstream: malformed requests and hostile clients (cleartext h2, raw frames)', function () {
  this.timeout(60_000);
  let origin: Origin;
  let proxy: TestProxy;
  let port: number;
  /** Requests the origin saw complete (head and whole body), by path. */
  const completed: string[] = [];

  before(async () => {
    origin = await startOrigin((req, res) => {
      req.resume();
      req.on('end', () => completed.push(req.url!));
      if (req.url === '/stall') return; // never answers
      req.on('end', () => res.end('ok'));
    });
    proxy = await startProxy({
      reverse: [{
        http2: { cleartext: true, max_concurrent_streams: 2, max_resets: 60, resets_per_second: 1, max_pings: 20, max_settings: 20 },
        limits: { max_header_size: '8KB', idle_timeout: '60s' }, // idle_timeout has its own test and proxy
        routes: [{ match: {}, pool: 'app' }],
      }],
      pools: { app: { upstreams: [{ url: origin.url }], response_timeout: '20s' } },
    });
    port = Number(new URL(proxy.url()).port);
  });
  after(async () => { await proxy.close(); await origin.close(); });

  it('speaks cleartext h2 with prior knowledge (curl --http2-prior-knowledge) and HTTP/1.1 on the same port', async () => {
    const { stdout } = await run('curl', ['-s', '--http2-prior-knowledge', '-w', ' %{http_version}', `http://127.0.0.1:${port}/prior`]);
    expect(stdout).to.equal('ok 2');
    const h1 = await run('curl', ['-s', '--http1.1', '-w', ' %{http_version}', `http://127.0.0.1:${port}/plain`]);
    expect(h1.stdout).to.equal('ok 1.1');
  });

  it('a body left unread after the answer (respond route) ends with its stream (RST_STREAM), the connection stays', async () => {
    const own = await startProxy({
      reverse: [{ http2: { cleartext: true }, limits: { body_timeout: '20s', idle_timeout: '30s' }, routes: [{ match: {}, respond: { status: 200, body: 'answered' } }] }],
    });
    try {
      const c = await RawH2.open(Number(new URL(own.url()).port));
      c.send(c.headers(1, [[':method', 'POST'], ...getFields('/no-body').slice(1)], false));
      expect(await c.waitFor((f) => f.stream === 1 && f.type === FRAME.HEADERS), 'answered').to.not.equal(undefined);
      // RFC 9113 §8.1: a complete response may end the stream with NO_ERROR while the request is unfinished
      const reset = await c.waitFor((f) => f.stream === 1 && f.type === FRAME.RST_STREAM);
      expect(reset?.code).to.be.oneOf([CODE.NO_ERROR, CODE.CANCEL]);
      expect(c.closed, 'only the stream ends').to.equal(false);
      c.close();
    } finally { await own.close(); }
  });

  it('applies the per-IP rate limit and counts h2 requests in the metrics, as on HTTP/1.1', async () => {
    const limited = await startProxy({
      admin: { listen: '127.0.0.1:0' },
      reverse: [{ http2: { cleartext: true }, limits: { rate: { per_ip: 2 } }, routes: [{ name: 'rated', match: {}, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
    const session = h2connect(limited.url());
    try {
      const statuses = await Promise.all(Array.from({ length: 12 }, () => new Promise<number>((resolve, reject) => {
        const stream = session.request({ ':path': '/rated', ':authority': 'h2.test' });
        stream.on('response', (h) => { stream.resume(); resolve(Number(h[':status'])); });
        stream.on('error', reject);
      })));
      expect(statuses.filter((s) => s === 429).length, 'some over the rate').to.be.greaterThan(0);
      expect(statuses.filter((s) => s === 200).length, 'the budget passes').to.be.greaterThan(0);
      const metrics = await (await fetch(`${limited.adminUrl()}/metrics`)).text();
      // the rate limit runs before routing: its 429s have no route
      expect(metrics).to.match(/gatehouse_requests_total\{listener="reverse\[0\]",route="-",code="429"\} [1-9]/);
      expect(metrics).to.match(/gatehouse_requests_total\{listener="reverse\[0\]",route="rated",code="200"\} [1-9]/);
    } finally { session.close(); await limited.close(); }
  });

  it('never honours nor forwards Upgrade: h2c on HTTP/1.1', async () => {
    const { stdout } = await run('curl', ['-s', '--http2', '-w', ' %{http_version}', `http://127.0.0.1:${port}/h2c-asked`]);
    expect(stdout).to.equal('ok 1.1');
    const seen = origin.seen.find((r) => r.url === '/h2c-asked')!;
    expect(seen.headers.upgrade).to.equal(undefined);
    expect(seen.headers['http2-settings']).to.equal(undefined);
  });

  it('answers a malformed request with a stream error and never forwards it', async () => {
    const malformed: [string, [string, string][]][] = [
      ['connection', [['connection', 'keep-alive']]],
      ['keep-alive', [['keep-alive', 'timeout=5']]],
      ['transfer-encoding', [['transfer-encoding', 'chunked']]],
      ['upgrade', [['upgrade', 'websocket']]],
      ['proxy-connection', [['proxy-connection', 'close']]],
      ['te-gzip', [['te', 'gzip']]],
      ['upper-case', [['X-Upper', '1']]],
      ['host-differs', [['host', 'other.test']]],
    ];
    malformed.push(['no-authority', []]);
    const c = await RawH2.open(port);
    let stream = 1;
    const ids = new Map<string, number>();
    for (const [name, extra] of malformed) {
      ids.set(name, stream);
      const fields = getFields(`/malformed-${name}`).filter(([n]) => name !== 'no-authority' || n !== ':authority');
      c.send(c.headers(stream, [...fields, ...extra]));
      stream += 2;
    }
    // a pseudo-header after a regular one, and an extended CONNECT nobody offered
    ids.set('pseudo-late', stream);
    c.send(c.headers(stream, [[':method', 'GET'], [':scheme', 'http'], ['x-a', '1'], [':authority', 'h2.test'], [':path', '/malformed-pseudo-late']]));
    stream += 2;
    ids.set('extended-connect', stream);
    c.send(c.headers(stream, [[':method', 'CONNECT'], [':protocol', 'websocket'], [':scheme', 'http'], [':authority', 'h2.test'], [':path', '/malformed-ws']]));
    for (const [name, id] of ids) {
      const reset = await c.waitFor((f) => f.stream === id && f.type === FRAME.RST_STREAM);
      const gone = reset ? undefined : await c.goneAway(0);
      expect(reset?.code ?? gone?.code, name).to.equal(CODE.PROTOCOL_ERROR);
    }
    c.close();
    expect(origin.seen.filter((r) => r.url!.startsWith('/malformed'))).to.deep.equal([]);
  });

  it('aborts a request whose DATA disagrees with its content-length: the upstream never gets a whole request', async () => {
    for (const [path, declared, sent] of [['/short-body', '10', 'abc'], ['/long-body', '2', 'abcdef']] as const) {
      const c = await RawH2.open(port);
      c.send(c.headers(1, [[':method', 'POST'], ...getFields(path).slice(1), ['content-length', declared]], false));
      c.send(frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from(sent)));
      // nghttp2 resets the stream when the DATA falls short, and ends the connection when it overruns
      const reset = await c.waitFor((f) => f.stream === 1 && f.type === FRAME.RST_STREAM);
      const gone = reset ? undefined : await c.goneAway(0);
      expect(reset?.code ?? gone?.code, path).to.be.oneOf([CODE.PROTOCOL_ERROR, CODE.INTERNAL_ERROR]);
      c.close();
    }
    expect(completed.filter((p) => p === '/short-body' || p === '/long-body')).to.deep.equal([]);
  });

  it('ends the upstream request when the client leaves mid-request (logged 499 at once, not at shutdown)', async () => {
    const session = h2connect(`http://127.0.0.1:${port}`);
    const stream = session.request({ ':path': '/stall', ':authority': 'h2.test', 'x-mark': 'leaving' });
    stream.on('error', () => {});
    const deadline = Date.now() + 15_000;
    while (!origin.seen.some((r) => r.headers['x-mark'] === 'leaving') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    session.destroy();
    let line: Record<string, unknown> | undefined;
    while (!line && Date.now() < deadline + 15_000) {
      line = proxy.logs.find((l) => l.msg === 'access' && l.path === '/stall' && l.status === 499);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(line, 'access line of the abandoned request').to.not.equal(undefined);
  });

  it('refuses streams beyond max_concurrent_streams', async () => {
    const c = await RawH2.open(port);
    c.send(c.headers(1, getFields('/stall')), c.headers(3, getFields('/stall')), c.headers(5, getFields('/over-limit')));
    // RFC 9113 §5.1.2: a stream error (REFUSED_STREAM or PROTOCOL_ERROR); nghttp2 makes it a connection error
    const refused = await c.waitFor((f) => f.stream === 5 && f.type === FRAME.RST_STREAM);
    const gone = refused ? undefined : await c.goneAway(0);
    expect(refused?.code ?? gone?.code).to.be.oneOf([CODE.REFUSED_STREAM, CODE.PROTOCOL_ERROR]);
    c.close();
    expect(origin.seen.filter((r) => r.url === '/over-limit')).to.deep.equal([]);
  });

  it('refuses a header list over limits.max_header_size without forwarding it', async () => {
    const c = await RawH2.open(port);
    c.send(c.headers(1, [...getFields('/huge-header'), ['x-big', 'a'.repeat(12_000)]]));
    const answer = await c.waitFor((f) => f.stream === 1 && (f.type === FRAME.RST_STREAM || f.type === FRAME.HEADERS));
    const gone = answer ? undefined : await c.goneAway(0);
    expect(answer ?? gone, 'reset, 431 or GOAWAY').to.not.equal(undefined);
    c.close();
    expect(origin.seen.filter((r) => r.url === '/huge-header')).to.deep.equal([]);
  });

  it('sends GOAWAY to a client resetting streams faster than its budget (rapid reset, CVE-2023-44487)', async () => {
    const own = await startProxy({
      reverse: [{ http2: { cleartext: true, max_resets: 60, resets_per_second: 1 }, routes: [{ match: {}, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: origin.url }] } },
    });
    const ownPort = Number(new URL(own.url()).port);
    try {
      const resets = (c: RawH2, first: number, count: number) => {
        const frames: Buffer[] = [];
        for (let id = first; id < first + 2 * count; id += 2) {
          frames.push(c.headers(id, getFields('/reset-me')), frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, CODE.CANCEL])));
        }
        c.send(...frames);
      };
      // within the budget (node has a coarser guard of its own past some 100 resets): the connection lives on (its PING is answered)
      const calm = await RawH2.open(ownPort);
      resets(calm, 1, 40);
      calm.send(frame(FRAME.PING, 0, 0, Buffer.from('calm-ok!')));
      const pong = await calm.waitFor((f) => f.type === FRAME.PING && (f.flags & FLAG.ACK) !== 0);
      expect(pong?.payload.toString(), 'PING answered').to.equal('calm-ok!');
      expect(calm.frames.some((f) => f.type === FRAME.GOAWAY)).to.equal(false);
      calm.close();
      // far over it: GOAWAY
      const rapid = await RawH2.open(ownPort);
      resets(rapid, 1, 95);
      expect(await rapid.goneAway(), 'GOAWAY or close').to.not.equal(null);
      rapid.close();
      expect(await stillServes(ownPort)).to.equal(200);
    } finally { await own.close(); }
  });

  it('ends a CONTINUATION flood', async () => {
    const c = await RawH2.open(port);
    const frames = [frame(FRAME.HEADERS, 0, 1, headerBlock(getFields('/continuation')))];
    for (let i = 0; i < 2000; i++) frames.push(frame(FRAME.CONTINUATION, 0, 1, headerBlock([[`x-c${i}`, 'v']])));
    c.send(...frames);
    expect(await c.goneAway(), 'GOAWAY or close').to.not.equal(null);
    c.close();
    expect(origin.seen.filter((r) => r.url === '/continuation')).to.deep.equal([]);
    expect(await stillServes(port)).to.equal(200);
  });

  it('sends GOAWAY ENHANCE_YOUR_CALM on a PING flood and on a SETTINGS flood', async () => {
    for (const flood of [
      (n: number) => frame(FRAME.PING, 0, 0, Buffer.alloc(8, n % 256)),
      () => frame(FRAME.SETTINGS, 0, 0),
    ]) {
      const c = await RawH2.open(port);
      c.send(...Array.from({ length: 200 }, (_, i) => flood(i)));
      const gone = await c.goneAway();
      expect(gone?.code).to.equal(CODE.ENHANCE_YOUR_CALM);
      c.close();
    }
    expect(await stillServes(port)).to.equal(200);
  });

  it('closes an idle connection, and resets a stream that stops making progress (limits.idle_timeout)', async () => {
    const own = await startProxy({
      reverse: [{ http2: { cleartext: true }, limits: { idle_timeout: '1s' }, routes: [{ match: {}, pool: 'app' }] }],
      pools: { app: { upstreams: [{ url: origin.url }], response_timeout: '20s' } },
    });
    try {
      const port = Number(new URL(own.url()).port);
      const idle = await RawH2.open(port);
      expect(await idle.goneAway(), 'idle connection ended').to.not.equal(null);
      idle.close();
      const slow = await RawH2.open(port);
      // a POST whose body never comes
      slow.send(slow.headers(1, [[':method', 'POST'], ...getFields('/slow-body').slice(1)], false));
      const reset = await slow.waitFor((f) => f.stream === 1 && f.type === FRAME.RST_STREAM);
      const gone = reset ? undefined : await slow.goneAway(0);
      expect(reset ?? gone, 'stream reset or connection ended').to.not.equal(undefined);
      slow.close();
      expect(completed.filter((p) => p === '/slow-body')).to.deep.equal([]);
    } finally { await own.close(); }
  });
});
