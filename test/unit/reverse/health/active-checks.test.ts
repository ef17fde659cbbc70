import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { ActiveHttpChecker } from '../../../../src/reverse/health/active-http.js';
import { ActiveTcpChecker } from '../../../../src/reverse/health/active-tcp.js';
import { createHealthChecker } from '../../../../src/reverse/health/create-health-checker.js';
import type { HealthChecker, HealthReport } from '../../../../src/reverse/health/health-checker.js';
import { expect } from '../expect.js';
import { waitFor } from '../../../helpers/load.js';
import { refusedUrl } from '../../../helpers/addresses.js';

async function listen(handler: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(handler).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function close(server: net.Server & { closeAllConnections?: () => void }) {
  server.closeAllConnections?.();
  server.close();
}

/** Starts the checker and resolves with the first `n` reports per upstream id. */
async function collect(checker: HealthChecker, targets: { id: string; url: string }[], n = 1): Promise<Map<string, HealthReport[]>> {
  const seen = new Map<string, HealthReport[]>(targets.map((t) => [t.id, []]));
  await new Promise<void>((resolve) => {
    checker.start(targets, (r) => {
      seen.get(r.upstreamId)!.push(r);
      if ([...seen.values()].every((list) => list.length >= n)) resolve();
    });
  });
  await checker.stop();
  return seen;
}

describe('health: active http', () => {
  const servers: Server[] = [];
  afterEach(() => servers.splice(0).forEach(close));

  it('passes a healthy upstream and fails wrong status, timeout, body mismatch and refused', async () => {
    const seenHost: string[] = [];
    const ok = await listen((req, res) => {
      seenHost.push(`${req.url} ${req.headers.host}`);
      res.end('status: UP');
    });
    const wrong = await listen((_req, res) => res.writeHead(503).end('status: UP'));
    const hang = await listen(() => {}); // never answers
    const body = await listen((_req, res) => res.end('status: DOWN'));
    servers.push(ok.server, wrong.server, hang.server, body.server);
    const options = { path: '/health', interval: 50, expect_status: ['200-299'], expect_body: 'UP', host: 'app.test' };
    // answers get seconds (a loaded machine); the hanging one is cut at its own short timeout
    const checker = new ActiveHttpChecker({ ...options, timeout: 5000 });
    const short = new ActiveHttpChecker({ ...options, timeout: 300 });
    const started = Date.now();
    const [r, h] = await Promise.all([
      collect(checker, [
        { id: 'ok', url: ok.url }, { id: 'wrong', url: wrong.url }, { id: 'body', url: body.url }, { id: 'refused', url: refusedUrl() },
      ]),
      collect(short, [{ id: 'hang', url: hang.url }]),
    ]);
    expect(r.get('ok')![0]).to.include({ upstreamId: 'ok', ok: true, reason: 'status 200, body matched' });
    expect(r.get('ok')![0]!.latencyMs).to.be.a('number');
    expect(seenHost[0]).to.equal('/health app.test');
    expect(r.get('wrong')![0]).to.include({ ok: false, reason: 'status 503' });
    expect(h.get('hang')![0]).to.include({ ok: false, reason: 'timeout after 300ms' });
    expect(r.get('body')![0]).to.include({ ok: false, reason: 'body mismatch' });
    expect(r.get('refused')![0]).to.include({ ok: false, reason: 'ECONNREFUSED' });
    // the hanging check ended at its own timeout, not the test's
    expect(Date.now() - started).to.be.below(15_000);
  });

  it('checks repeatedly every interval ± jitter and stops reporting after stop()', async () => {
    let hits = 0;
    const up = await listen((_req, res) => {
      hits++;
      res.end();
    });
    servers.push(up.server);
    const checker = new ActiveHttpChecker({ path: '/', interval: 40, timeout: 5000 });
    const started = Date.now();
    const r = await collect(checker, [{ id: 'u', url: up.url }], 4);
    const elapsed = Date.now() - started;
    expect(r.get('u')!.every((x) => x.ok)).to.equal(true);
    expect(elapsed).to.be.at.least(3 * 36); // 3 gaps of at least 40 - 10%
    const after = hits;
    await new Promise((res) => setTimeout(res, 150));
    expect(hits).to.equal(after);
  });

  it('reconciles membership when start() is called again', async () => {
    const a = await listen((_req, res) => res.end());
    const b = await listen((_req, res) => res.end());
    servers.push(a.server, b.server);
    const checker = new ActiveHttpChecker({ path: '/', interval: 30, timeout: 5000 });
    const ids: string[] = [];
    checker.start([{ id: 'a', url: a.url }], (r) => ids.push(r.upstreamId));
    expect(await waitFor(() => ids.includes('a'), 10_000), 'a checked').to.equal(true);
    checker.start([{ id: 'b', url: new URL(b.url) }], (r) => ids.push(r.upstreamId));
    const restarted = ids.length;
    expect(await waitFor(() => ids.slice(restarted).filter((id) => id === 'b').length >= 3, 10_000), 'b checked').to.equal(true);
    await checker.stop();
    // a check of a that was in flight at the restart may still report once; none starts after it
    expect(ids.slice(restarted).filter((id) => id === 'a').length).to.be.at.most(1);
  });

  it('stop() aborts a check in flight', async () => {
    const hang = await listen(() => {});
    servers.push(hang.server);
    const checker = new ActiveHttpChecker({ path: '/', interval: 1, timeout: 10_000 });
    const reports: HealthReport[] = [];
    checker.start([{ id: 'h', url: hang.url }], (r) => reports.push(r));
    await new Promise((res) => setTimeout(res, 50));
    const t0 = Date.now();
    await checker.stop();
    // the check's own timeout is 10 s: stopping well before it means it was aborted
    expect(Date.now() - t0).to.be.below(5000);
    expect(reports).to.deep.equal([]);
  });
});

describe('health: active tcp', () => {
  it('passes a listening port and fails a closed one', async () => {
    const server = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const open = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const closed = refusedUrl();
      const r = await collect(new ActiveTcpChecker({ interval: 50, timeout: 5000 }), [{ id: 'open', url: open }, { id: 'closed', url: closed }]);
      expect(r.get('open')![0]).to.include({ ok: true, reason: 'connected' });
      expect(r.get('closed')![0]).to.include({ ok: false, reason: 'ECONNREFUSED' });
    } finally {
      server.close();
    }
  });

  it('createHealthChecker picks http with a path and tcp without', () => {
    expect(createHealthChecker({ path: '/h', interval: 1000, timeout: 100 })).to.be.instanceOf(ActiveHttpChecker);
    expect(createHealthChecker({ interval: 1000, timeout: 100 })).to.be.instanceOf(ActiveTcpChecker);
  });
});
