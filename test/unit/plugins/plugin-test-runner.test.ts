import { expect } from 'chai';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runPluginTest } from '../../../src/plugins/plugin-test-runner.js';
import { PluginDir } from './plugin-fixtures.js';

const run = async (argv: string[]) => {
  const lines: string[] = [];
  const code = await runPluginTest(argv, (l) => lines.push(l));
  return { code, text: lines.join('\n') };
};

describe('plugins: gatehouse plugin test', () => {
  let dir: PluginDir;
  beforeEach(() => { dir = new PluginDir(); });
  afterEach(() => dir.remove());

  it('prints the decision for a fixture (bare request or case-shaped), with defaults filled in', async () => {
    const file = dir.write('echo.js', 'export function onRequest(r, ctx) { return { set_headers: { "x-seen": [r.method, r.host, r.path, r.query, r.client.ip, r.mode, ctx.config.tag ?? "-"].join(" ") } }; }');
    const bare = dir.write('req.json', JSON.stringify({ url: 'http://shop.test/cart?id=3', method: 'post' }));
    expect(await run([file, '--request', bare, '--hook', 'onRequest'])).to.deep.equal({ code: 0, text: JSON.stringify({ set_headers: { 'x-seen': 'POST shop.test /cart id=3 127.0.0.1 reverse -' } }, null, 2) });
    const asCase = dir.write('case.json', JSON.stringify({ request: { path: '/' }, config: { tag: 't' } }));
    expect((await run([file, '--request', asCase])).text).to.contain('GET example.test / ').and.contain(' t"');
    expect((await run([file])).code).to.equal(0);
  });

  it('exit 1 on a mismatch, a failed call or a plugin that does not load; 2 on bad usage', async () => {
    const file = dir.write('deny.js', 'export function onRequest(r) { if (r.path === "/x") return { deny: { status: 403, reason: "no" } }; if (r.path === "/boom") throw new Error("boom"); }');
    const cases = join(dir.dir, 'cases');
    mkdirSync(cases);
    writeFileSync(join(cases, 'a-pass.json'), JSON.stringify({ request: { path: '/x' }, expect: { deny: { status: 403, reason: 'no' } } }));
    writeFileSync(join(cases, 'b-fail.json'), JSON.stringify({ request: { path: '/y' }, expect: { deny: { status: 403, reason: 'no' } } }));
    writeFileSync(join(cases, 'c-error.json'), JSON.stringify({ request: { path: '/boom' }, expect_error: 'throw' }));
    const r = await run([file, '--cases', cases]);
    expect(r.code).to.equal(1);
    expect(r.text).to.match(/ok {3}a-pass\.json/).and.match(/FAIL b-fail\.json: expected \{"deny".*got null/).and.match(/ok {3}c-error\.json/);
    expect(r.text).to.match(/2 passed, 1 failed/);
    const boom = dir.write('boom.json', JSON.stringify({ path: '/boom' }));
    expect(await run([file, '--request', boom])).to.deep.include({ code: 1 });
    expect((await run([dir.write('bad.js', 'export function onRequest( {')])).code).to.equal(1);
    expect((await run([])).code).to.equal(2);
    expect((await run([file, '--cases'])).code).to.equal(2);
    expect((await run([file, '--hook', 'nope'])).code).to.equal(2);
    expect((await run([file, '--cases', join(dir.dir, 'missing')])).code).to.equal(2);
  });

  it('without --hook runs every hook the plugin exports, each under its name', async () => {
    const routeOnly = dir.write('route-only.js', 'export function route(r) { return { pool: "canary" }; }');
    expect(await run([routeOnly])).to.deep.equal({ code: 0, text: `route:\n${JSON.stringify({ pool: 'canary' }, null, 2)}` });
    const both = dir.write('both.js', 'export function onRequest() { return null; }\nexport function onResponse() { return { set_headers: { "x-a": "1" } }; }');
    expect((await run([both])).text).to.equal(`onRequest:\nnull\nonResponse:\n${JSON.stringify({ set_headers: { 'x-a': '1' } }, null, 2)}`);
    const none = dir.write('none.js', 'export const x = 1;');
    const r = await run([none]);
    expect(r.text).to.match(/exports none of onRequest, route, onResponse/);
    expect(r.code).to.equal(1);
  });

  it('--help prints every option; usage errors go to the error stream', async () => {
    const help = await run(['--help']);
    expect(help.code).to.equal(0);
    for (const option of ['--request', '--cases', '--hook', '--cpu-limit', '--timeout', '--memory-limit']) expect(help.text).to.include(option);
    const out: string[] = [];
    const err: string[] = [];
    expect(await runPluginTest(['--frobnicate'], (l) => out.push(l), (l) => err.push(l))).to.equal(2);
    expect(out).to.deep.equal([]);
    expect(err.join('\n')).to.match(/^gatehouse plugin test: unknown option --frobnicate\nUsage: gatehouse plugin test FILE/);
  });

  it('runs the plugin in its own process with the production limits (500ms wall time by default)', async () => {
    const file = dir.write('spin.js', 'export function onRequest(r) { if (r.path === "/spin") while (true) {} }');
    const fixture = dir.write('spin.json', JSON.stringify({ path: '/spin' }));
    const r = await run([file, '--request', fixture, '--hook', 'onRequest']);
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.text)).to.deep.equal({ error: { kind: 'timeout', message: 'onRequest ran longer than 500ms' } });
  });

  it('a case that would kill the proxy only fails the test (the plugin runs in its own process)', async () => {
    const file = dir.write('fill.js', 'export function onRequest(r) { if (r.path === "/fill") Array(1e9).fill(0); }');
    const fixture = dir.write('fill.json', JSON.stringify({ path: '/fill' }));
    const r = await run([file, '--request', fixture, '--timeout', '200ms', '--hook', 'onRequest']);
    expect(r.code).to.equal(1);
    expect(['throw', 'oom', 'timeout', 'crashed']).to.include(JSON.parse(r.text).error.kind);
  });
});
