import { expect } from 'chai';
import { request } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy, type TestProxy } from '../helpers/loopback.js';
import { runCli } from '../helpers/cli.js';

/** A request with any headers (fetch forbids setting Host and Origin). */
function send(url: string, method: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    }).on('error', reject).end();
  });
}

describe('admin API guards', function () {
  this.timeout(30_000);
  let proxy: TestProxy;
  before(async () => { proxy = await startProxy({ admin: { listen: '127.0.0.1:0' } }); });
  after(async () => { await proxy.close(); });

  it('refuses to start on a non-loopback address without a token, in one line', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gh-admin-')), 'open.yaml');
    writeFileSync(file, 'admin: { listen: "0.0.0.0:0" }\nreverse: [{ listen: "127.0.0.1:0", routes: [{ match: {}, respond: { status: 200 } }] }]\n');
    const result = await runCli(['--config', file]).output;
    expect(result.code).to.equal(1);
    expect(result.stderr.trim().split('\n')).to.deep.equal([
      'admin.token: required when admin.listen (0.0.0.0:0) is not a loopback address; set a token or listen on 127.0.0.1',
    ]);
  });

  it('answers only requests whose Host is an IP address or a loopback name (DNS rebinding)', async () => {
    const url = `${proxy.adminUrl()}/status`;
    const port = new URL(url).port;
    expect((await send(url, 'GET', { host: `rebind.attacker.example:${port}` })).status).to.equal(421);
    expect((await send(`${proxy.adminUrl()}/metrics`, 'GET', { host: 'attacker.example' })).status).to.equal(421);
    expect((await send(`${proxy.adminUrl()}/reload`, 'POST', { host: `attacker.example:${port}` })).status).to.equal(421);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost', `[::1]:${port}`, `10.1.2.3:${port}`]) {
      expect((await send(url, 'GET', { host })).status).to.equal(200, host);
    }
  });

  it('refuses changing calls a browser marks as cross-site, and serves tools that send neither header', async () => {
    const reload = `${proxy.adminUrl()}/reload`;
    const host = new URL(reload).host;
    expect((await send(reload, 'POST', { origin: 'https://attacker.example' })).status).to.equal(403);
    expect((await send(reload, 'POST', { origin: 'null' })).status).to.equal(403);
    expect((await send(reload, 'POST', { 'sec-fetch-site': 'cross-site' })).status).to.equal(403);
    expect((await send(reload, 'POST', { 'sec-fetch-site': 'same-site' })).status).to.equal(403);
    expect((await send(`${proxy.adminUrl()}/cache/purge`, 'POST', { origin: 'http://attacker.example', 'content-type': 'text/plain' })).status).to.equal(403);
    expect((await send(reload, 'POST', { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' })).status).to.not.equal(403);
    expect((await send(reload, 'POST', {})).status).to.not.equal(403);
    // reading stays open to a page of the same origin, and cross-site reads are the browser's to block (no CORS headers)
    expect((await send(`${proxy.adminUrl()}/healthz`, 'GET', { 'sec-fetch-site': 'cross-site' })).status).to.equal(200);
  });
});
