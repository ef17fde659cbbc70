import { expect } from 'chai';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, flushLogger } from '../../../src/observability/logger.js';
import { AccessLog } from '../../../src/observability/access-log.js';

const waitFor = async (check: () => boolean, ms = 5000) => {
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

  it('writes human-readable lines through pino-pretty with format: pretty', async () => {
    const file = join(dir, 'pretty.log');
    const log = createLogger({ level: 'info', format: 'pretty', file, nodeId: 'n2' });
    log.info({ upstream: 'http://127.0.0.1:1' }, 'pretty hello');
    new AccessLog(log).write({ reqId: 'abc', method: 'GET', path: '/x', status: 204, ms: 1, bytes: 0, client: '::1' });
    await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').includes('access'));
    const text = readFileSync(file, 'utf8');
    expect(text).to.include('INFO');
    expect(text).to.include('pretty hello');
    expect(text).to.include('access');
    expect(text).to.not.match(/^\{"level"/m);
  });
});
