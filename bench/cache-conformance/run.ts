/**
 * Runs the http-tests/cache-tests conformance suite against a real Gatehouse reverse listener (route `cache: true`)
 * in front of a scripted loopback origin, and prints a verdict per test id and totals by kind.
 *
 *   npx node --import tsx bench/cache-conformance/run.ts [--dir .cache-tests] [--only id,id] [--verbose]
 *
 * The suite's test definitions are not part of this repository: put its `tests/` directory (index.mjs, *.mjs,
 * lib/) under `.cache-tests/` (git-ignored), e.g. `git clone https://github.com/http-tests/cache-tests` and copy
 * `tests/` there. Browser-only tests are skipped, as the suite's CLI does for a proxy.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { buildConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/gateway.js';
import { runTest } from './client.js';
import { ScriptedOrigin } from './origin.js';
import { totals, verdict } from './score.js';
import type { Result, Suite, TestDef } from './suite-types.js';

const CHUNK = 50; // the suite's client runs tests 50 at a time

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function loadSuites(dir: string): Promise<Suite[]> {
  const index = resolve(dir, 'tests', 'index.mjs');
  if (!existsSync(index)) {
    console.error(`cache-conformance: ${index} not found.\n` +
      'Populate the git-ignored suite directory first: copy the tests/ directory of https://github.com/http-tests/cache-tests ' +
      `to ${resolve(dir, 'tests')} (or pass --dir DIR).`);
    process.exit(2);
  }
  return (await import(pathToFileURL(index).href) as { default: Suite[] }).default;
}

async function main(): Promise<void> {
  const suites = await loadSuites(arg('--dir') ?? '.cache-tests');
  const only = arg('--only')?.split(',');
  const tests = new Map<string, TestDef>();
  for (const s of suites) for (const t of s.tests) if (!t.browser_only) tests.set(t.id, t);

  const origin = new ScriptedOrigin();
  await origin.start();
  const config = buildConfig({
    node_id: 'gh-conformance', shutdown_timeout: '1s', admin: { listen: '' },
    reverse: [{ listen: '127.0.0.1:0', routes: [{ match: {}, pool: 'app', cache: true }] }],
    pools: { app: { upstreams: [{ url: `http://127.0.0.1:${origin.port}` }], retries: 0 } },
  }, { env: {} });
  const gateway = new Gateway(config, pino({ level: 'silent' }));
  await gateway.start();
  const base = `http://127.0.0.1:${gateway.reverseListeners[0]!.listener.address.port}`;

  const results = new Map<string, Result>();
  const todo = [...tests.values()].filter((t) => !only || only.includes(t.id));
  for (let i = 0; i < todo.length; i += CHUNK) {
    await Promise.all(todo.slice(i, i + CHUNK).map(async (t) => { results.set(t.id, await runTest(t, base, origin)); }));
  }
  await gateway.stop();
  await origin.close();

  const verbose = process.argv.includes('--verbose');
  for (const t of todo) {
    const v = verdict(tests, results, t.id);
    const r = results.get(t.id);
    const why = r !== true && r !== undefined && (verbose || v === 'fail' || v === 'optional_fail' || v === 'setup_fail') ? `  ${r[0]}: ${r[1]}` : '';
    console.log(`${v.padEnd(15)} ${(t.kind ?? 'required').padEnd(8)} ${t.id}${why}`);
  }
  const tot = totals(new Map(todo.map((t) => [t.id, t])), results);
  const [rp, rn] = tot.required; const [op, on] = tot.optimal; const [cp, cn] = tot.check;
  console.log(`\nrequired ${rp}/${rn}  optimal ${op}/${on}  required+optimal ${rp + op}/${rn + on}  (checks answered yes: ${cp}/${cn})`);
}

main().catch((err) => { console.error(err); process.exit(1); });
