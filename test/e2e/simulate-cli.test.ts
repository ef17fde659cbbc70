/** `gatehouse simulate`: the dry run offline from a config file, and a table of cases that exits 1 on a mismatch. */
import { expect } from 'chai';
import { runCli } from '../helpers/cli.js';
import { scratch } from '../helpers/forward.js';

describe('gatehouse simulate (offline)', function () {
  this.timeout(30_000);
  const files = scratch();
  const config = files.write('gatehouse.yaml', JSON.stringify({
    node_id: 'sim', admin: { listen: '' }, plugins: { dir: files.dir },
    reverse: [{ listen: '127.0.0.1:0', routes: [{ name: 'api', match: { path_prefix: '/api' }, pool: 'app' }] }],
    pools: { app: { upstreams: [{ url: 'http://127.0.0.1:9' }, { url: 'http://127.0.0.1:10' }] } },
    forward: [{
      listen: '127.0.0.1:0', cache: false, allow_destinations: ['127.0.0.1'],
      acl: [{ name: 'finance', allow: { src: ['10.1.0.0/16'] } }],
    }],
  }));

  it('prints the decisions for one request, and sends nothing', async () => {
    const { code, stdout, stderr } = await runCli(['simulate', '--config', config, '--src', '10.1.2.3', '--listener', 'forward[0]', 'http://127.0.0.1:8080/ledger']).output;
    expect(code, stderr).to.equal(0);
    const result = JSON.parse(stdout) as { answered_by: string; rule: string; upstream: string; trace: { steps: { step: string }[] } };
    expect(result).to.include({ answered_by: 'upstream', rule: 'finance', upstream: 'http://127.0.0.1:8080' });
    expect(result.trace.steps.map((s) => s.step)).to.include.members(['acl', 'ssrf', 'upstream']);
  });

  it('checks a directory of cases: 0 when all hold, 1 and the case named at the first mismatch', async () => {
    const good = scratch();
    good.write('finance-reaches-ledger.json', JSON.stringify({ request: { listener: 'forward[0]', src: '10.1.9.9', url: 'http://127.0.0.1:8080/' }, expect: { answered_by: 'upstream', rule: 'finance' } }));
    good.write('others-denied.json', JSON.stringify({ request: { listener: 'forward[0]', src: '192.0.2.1', url: 'http://127.0.0.1:8080/' }, expect: { status: 403, rule: 'default' } }));
    good.write('api-routed.json', JSON.stringify({ request: { url: 'http://shop.test/api/cart' }, expect: { route: 'api', upstream: 'http://127.0.0.1:9' } }));
    const ok = await runCli(['simulate', '--config', config, '--cases', good.dir]).output;
    expect(ok.code, ok.stderr).to.equal(0);
    expect(ok.stdout).to.include('3 cases passed');

    const bad = scratch();
    bad.write('a-finance.json', JSON.stringify({ request: { listener: 'forward[0]', src: '192.0.2.1', url: 'http://127.0.0.1:8080/' }, expect: { answered_by: 'upstream' } }));
    bad.write('b-never-run.json', JSON.stringify({ request: { url: 'http://shop.test/' }, expect: { status: 404 } }));
    const failed = await runCli(['simulate', '--config', config, '--cases', bad.dir]).output;
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.include('FAIL a-finance.json: answered_by: expected "upstream", got "proxy"');
    expect(failed.stdout).not.to.include('b-never-run');
  });

  it('answers bad usage with 2', async () => {
    const r = await runCli(['simulate', '--config', config]).output;
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('needs a URL');
  });
});
