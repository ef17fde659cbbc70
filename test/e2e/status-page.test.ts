/**
 * The admin status page (GET /) in a real headless Chromium: what it shows matches GET /status, an upstream
 * is drained through the page with the admin token (and refused without it), and a screenshot is saved.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { send, sleep } from '../helpers/http-client.js';
import { startOrigin, startProxy, type Origin, type TestProxy } from '../helpers/loopback.js';

const CHROMIUM = '/usr/bin/chromium';

interface Status {
  listeners: { name: string; address: string }[];
  pools: Record<string, { upstreams: { url: string; health: string; weight: number; ejections: number; state: string }[] }>;
  cache: { entries: number; lookups: number; hit_ratio: number };
  recent_errors: { req_id: string; status: number }[];
}

describe('admin status page in headless Chromium', function () {
  this.timeout(60_000);
  let a: Origin;
  let b: Origin;
  let p: TestProxy;
  let browser: Browser;
  let page: Page;
  const out = mkdtempSync(join(tmpdir(), 'gh-status-page-'));

  before(async function () {
    if (!existsSync(CHROMIUM)) this.skip(); // .ci/run installs it
    a = await startOrigin((req, res) => { req.resume(); res.setHeader('cache-control', 'max-age=60'); res.end('a'); });
    b = await startOrigin((req, res) => { req.resume(); res.setHeader('cache-control', 'max-age=60'); res.end('b'); });
    p = await startProxy({
      admin: { listen: '127.0.0.1:0', token: 'page-token' },
      reverse: [{ routes: [
        { name: 'broken', match: { path_prefix: '/broken' }, pool: 'dead' },
        { name: 'app', match: {}, pool: 'web', cache: true },
      ] }],
      pools: { web: { upstreams: [{ url: a.url, weight: 3 }, { url: b.url }] }, dead: { upstreams: [{ url: 'http://127.0.0.1:9' }] } },
    });
    await send(`${p.url()}/one`);
    await send(`${p.url()}/one`); // a hit
    await send(`${p.url()}/broken`, { headers: { 'x-request-id': 'broken-1' } }); // a 502 in recent errors
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync',
        `--user-data-dir=${mkdtempSync(join(tmpdir(), 'gh-chromium-'))}`],
    });
    page = await browser.newPage();
  });
  after(async () => {
    await browser?.close();
    await p?.close(); await a?.close(); await b?.close();
  });

  const status = async () => JSON.parse((await send(`${p.adminUrl()}/status`)).body) as Status;
  const cell = (selector: string) => page.$eval(selector, (e) => e.textContent?.trim() ?? '');

  it('shows listeners, pools, cache and recent errors as /status says', async () => {
    const res = await page.goto(`${p.adminUrl()}/`);
    expect(res?.status()).to.equal(200);
    const s = await status();
    for (const l of s.listeners) expect(await cell(`tr[data-listener="${l.name}"] td.address`)).to.equal(l.address);
    for (const [pool, info] of Object.entries(s.pools)) {
      for (const u of info.upstreams) {
        const row = `tr[data-pool="${pool}"][data-upstream="${u.url}"]`;
        expect(await cell(`${row} td.health`)).to.equal(u.health);
        expect(await cell(`${row} td.weight`)).to.equal(String(u.weight));
        expect(await cell(`${row} td.ejections`)).to.equal(String(u.ejections));
      }
    }
    expect(await cell(`tr[data-pool="web"][data-upstream="${a.url}"] td.weight`)).to.equal('3');
    expect(await cell('#cache-entries')).to.equal(String(s.cache.entries));
    expect(await cell('#cache-lookups')).to.equal(String(s.cache.lookups));
    expect(await cell('#cache-hit-ratio')).to.equal(`${(s.cache.hit_ratio * 100).toFixed(1)}%`);
    expect(s.cache.hit_ratio).to.be.greaterThan(0);
    expect(s.recent_errors.map((e) => e.req_id)).to.include('broken-1');
    expect(await page.$eval('#errors', (e) => e.textContent)).to.include('broken-1');
    const shot = join(out, 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).to.be.greaterThan(1000);
  });

  it('drains an upstream from the page only with the admin token', async () => {
    await page.goto(`${p.adminUrl()}/`);
    const button = `button.drain[data-pool="web"][data-upstream="${b.url}"]`;
    await page.click(button);
    await page.waitForFunction("document.getElementById('message').textContent.includes('refused')", { timeout: 10_000 });
    expect(await cell('#message')).to.include('401');
    expect((await status()).pools.web!.upstreams.map((u) => u.url)).to.include(b.url);

    await page.type('#token', 'page-token');
    await Promise.all([page.waitForNavigation({ timeout: 10_000 }), page.click(button)]);
    // the drain removes it once idle (it is): the page, reloaded, and /status agree
    let urls: string[] = [];
    for (const end = Date.now() + 15_000; Date.now() < end; await sleep(100)) {
      urls = (await status()).pools.web!.upstreams.map((u) => u.url);
      if (!urls.includes(b.url)) break;
    }
    expect(urls).to.deep.equal([a.url]);
    await page.goto(`${p.adminUrl()}/`);
    expect(await page.$(button)).to.equal(null);
    await page.screenshot({ path: join(out, 'status-page-drained.png'), fullPage: true });
  });
});
