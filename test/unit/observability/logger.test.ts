import { expect } from 'chai';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, flushLogger } from '../../../src/observability/logger.js';
import { AccessLog, type AccessRecord } from '../../../src/observability/access-log.js';
import pino, { type Logger } from 'pino';

const waitFor = async (check: () => boolean, ms = 15_000) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (check()) return;
};

describe('logger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-log-'));

  it('writes JSON lines with the node id, and access lines in the same shape', async () => {
    const file = join(dir, 'json.log');
    const log = createLogger({ level: 'info', format: 'json', file, nodeId: 'n1' });
    log.child({ listener: 'reverse[0]' }).info({ a: 1 }, 'hello');
    new AccessLog(log.child({ listener: 'reverse[0]' })).write({ reqId: 'r"1', method: 'GET', path: '/p?q="x"', status: 200, ms: 1.2345, bytes: 10, client: '127.0.0.1', extra: { retries: 1 } });
    await flushLogger(log);
    await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').split('\n').length >= 3);
    const [hello, access] = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(hello).to.include({ level: 30, node: 'n1', listener: 'reverse[0]', a: 1, msg: 'hello' });
    expect(access).to.include({ level: 30, node: 'n1', listener: 'reverse[0]', reqId: 'r"1', path: '/p?q="x"', status: 200, ms: 1.23, retries: 1, msg: 'access' });
    expect(access.time).to.match(/^\d{4}-\d\d-\d\dT/);
  });

  it('writes one human-readable line per entry with format: pretty', async () => {
    const file = join(dir, 'pretty.log');
    const log = createLogger({ level: 'info', format: 'pretty', file, nodeId: 'n2' });
    log.info({ upstream: 'http://127.0.0.1:1' }, 'pretty hello');
    new AccessLog(log.child({ listener: 'reverse[0]' })).write({ reqId: 'abc', method: 'GET', path: '/x', status: 204, ms: 1, bytes: 0, client: '::1', route: 'app' });
    await flushLogger(log);
    await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').split('\n').length >= 3);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).to.have.length(2);
    expect(lines[0]).to.match(/^\d\d:\d\d:\d\d\.\d{3} INFO  pretty hello upstream=http:\/\/127\.0\.0\.1:1$/);
    expect(lines[1]).to.match(/^\d\d:\d\d:\d\d\.\d{3} INFO  GET \/x 204 1ms 0B listener=reverse\[0\] reqId=abc client=::1 route=app$/);
  });

  it('starts, in pretty mode, with the listeners, the admin API, the demo origins and what to try first', async () => {
    const file = join(dir, 'banner.log');
    const log = createLogger({ level: 'info', format: 'pretty', file, nodeId: 'n3' });
    log.info({
      listeners: [
        { name: 'reverse[0]', mode: 'reverse', address: '0.0.0.0:8080', tls: false },
        { name: 'forward[0]', mode: 'forward', address: '127.0.0.1:3128', tls: false },
      ],
      admin: '127.0.0.1:9901', demo_origins: ['127.0.0.1:9001'],
    }, 'gatehouse started');
    await flushLogger(log);
    await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').includes('try first'));
    const text = readFileSync(file, 'utf8');
    for (const part of [
      'reverse proxy  http://127.0.0.1:8080/  (reverse[0])', 'forward proxy  http://127.0.0.1:3128  (forward[0])',
      'admin API      http://127.0.0.1:9901/status', 'demo origins   http://127.0.0.1:9001', 'try first:',
      'curl -s http://127.0.0.1:8080/', 'curl -s -x http://127.0.0.1:3128 http://127.0.0.1:9001/', 'curl -s http://127.0.0.1:9901/status',
    ]) expect(text).to.include(part);
  });

  it('access lines show the pool and the user from the request slots, in the same key order on both write paths', () => {
    const record = (slots: AccessRecord['slots']): AccessRecord => ({
      reqId: 'r1', method: 'GET', path: '/', status: 200, ms: 1, bytes: 2, client: '127.0.0.1', route: 'api', slots,
      upstream: 'http://127.0.0.1:1', upstream_status: 200, upstream_ms: 3, error: undefined, extra: { cache: 'miss' },
    });
    const lines: string[] = [];
    const fast = new AccessLog(pino({ base: undefined }, { write: (s: string) => { lines.push(s); } }));
    const objects: Record<string, unknown>[] = [];
    // a logger without pino's internals takes the generic path
    const slow = new AccessLog({ isLevelEnabled: () => true, info: (o: Record<string, unknown>) => { objects.push(o); } } as unknown as Logger);
    for (const slots of [{ pool: 'web', pinnedUpstream: 'http://127.0.0.1:1' }, { user: 'alice' }, {}]) {
      fast.write(record(slots));
      slow.write(record(slots));
    }
    const fastKeys = lines.map((l) => Object.keys(JSON.parse(l)).filter((k) => !['level', 'time', 'msg'].includes(k)));
    const slowKeys = objects.map((o) => Object.keys(JSON.parse(JSON.stringify(o))));
    expect(fastKeys).to.deep.equal([
      ['reqId', 'method', 'path', 'status', 'ms', 'bytes', 'client', 'route', 'pool', 'upstream', 'upstream_status', 'upstream_ms', 'cache'],
      ['reqId', 'method', 'path', 'status', 'ms', 'bytes', 'client', 'route', 'upstream', 'upstream_status', 'upstream_ms', 'user', 'cache'],
      ['reqId', 'method', 'path', 'status', 'ms', 'bytes', 'client', 'route', 'upstream', 'upstream_status', 'upstream_ms', 'cache'],
    ]);
    expect(slowKeys).to.deep.equal(fastKeys);
    expect(JSON.parse(lines[0]!)).to.include({ pool: 'web' });
    expect(JSON.parse(lines[1]!)).to.include({ user: 'alice' });
  });
});
