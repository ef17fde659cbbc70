/**
 * `gatehouse simulate`: what the proxy would do with a request, offline, from a config file — the same dry
 * run as the admin API's POST /simulate. With `--cases DIR`, every `*.json` file there holds a request and
 * what is expected of it; the first mismatch exits 1, so a config change can be checked in CI.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { ConfigError, loadConfig } from '../config/load.js';
import { Gateway } from '../gateway.js';
import type { SimulationResult } from '../core/simulate.js';
import { simulationInput, type SimulationInput } from '../core/simulated-request.js';

const SIMULATE_USAGE = `Usage:
  gatehouse simulate [--config FILE] [--listener NAME] [--src IP] [--user USER] [--method METHOD]
                     [--header "Name: value"]... URL
                                       print what the proxy would do with this request (JSON)
  gatehouse simulate [--config FILE] --cases DIR
                                       check every DIR/*.json case {"request": {...}, "expect": {...}};
                                       exit 1 at the first mismatch

A case's request has the fields of POST /simulate (listener, src, user, method, url, headers); expect
may name answered_by (proxy, cache or upstream), status, upstream, route, pool, rule and error.`;

const EXPECTABLE = ['answered_by', 'status', 'upstream', 'route', 'pool', 'rule', 'error'] as const;

type Out = (line: string) => void;

interface Parsed { file: string; cases?: string; input?: SimulationInput }

function parse(args: string[], defaultConfig: string): Parsed | string {
  let file = defaultConfig;
  let cases: string | undefined;
  const fields: Record<string, unknown> = {};
  const headers: Record<string, string> = {};
  let url: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--config': file = value(); break;
      case '--cases': cases = value(); break;
      case '--listener': fields.listener = value(); break;
      case '--src': fields.src = value(); break;
      case '--user': fields.user = value(); break;
      case '--method': fields.method = value().toUpperCase(); break;
      case '--header': {
        const h = value();
        const colon = h.indexOf(':');
        if (colon < 1) return `--header needs "Name: value", got "${h}"`;
        headers[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
        break;
      }
      default:
        if (a.startsWith('-')) return `unknown option "${a}"`;
        if (url !== undefined) return `unexpected argument "${a}"`;
        url = a;
    }
  }
  if (cases !== undefined) return url === undefined ? { file, cases } : 'give either --cases DIR or a URL, not both';
  if (url === undefined) return 'simulate needs a URL (or --cases DIR)';
  return { file, input: simulationInput({ ...fields, url, headers }) };
}

/** The fields of `expect` the result does not meet, as `field: expected X, got Y`. */
function mismatches(expect: Record<string, unknown>, result: SimulationResult): string[] {
  const out: string[] = [];
  for (const [k, want] of Object.entries(expect)) {
    if (!(EXPECTABLE as readonly string[]).includes(k)) { out.push(`${k}: not a field a case can expect (${EXPECTABLE.join(', ')})`); continue; }
    const got = (result as unknown as Record<string, unknown>)[k];
    if (got !== want) out.push(`${k}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got ?? null)}`);
  }
  return out;
}

async function runCases(gateway: Gateway, dir: string, out: Out, err: Out): Promise<number> {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  if (!files.length) { err(`${dir}: no *.json case files`); return 1; }
  for (const f of files) {
    const c = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { request?: unknown; expect?: Record<string, unknown> };
    if (typeof c.expect !== 'object' || c.expect === null) { err(`${f}: expect: must be an object`); return 1; }
    let input: SimulationInput;
    try { input = simulationInput(c.request); } catch (e) { err(`${f}: request.${(e as Error).message}`); return 1; }
    const result = await gateway.simulate(input);
    const wrong = mismatches(c.expect, result);
    if (wrong.length) {
      err(`FAIL ${f}: ${wrong.join('; ')}`);
      err(JSON.stringify(result.trace.steps));
      return 1;
    }
    out(`ok   ${f}`);
  }
  out(`${files.length} case${files.length === 1 ? '' : 's'} passed`);
  return 0;
}

export async function runSimulateCommand(args: string[], defaultConfig: string, out: Out, err: Out): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) { out(SIMULATE_USAGE); return 0; }
  let parsed: Parsed | string;
  try { parsed = parse(args, defaultConfig); } catch (e) { parsed = (e as Error).message; }
  if (typeof parsed === 'string') { err(`gatehouse simulate: ${parsed}\n${SIMULATE_USAGE}`); return 2; }
  let gateway: Gateway;
  try {
    const config = loadConfig(parsed.file);
    gateway = new Gateway({ ...config, admin: { ...config.admin, listen: '' } }, pino({ level: 'warn' }, pino.destination(2)));
  } catch (e) {
    if (e instanceof ConfigError) { e.problems.forEach(err); return 1; }
    throw e;
  }
  try {
    await gateway.prepareOffline();
    if (parsed.cases !== undefined) return await runCases(gateway, parsed.cases, out, err);
    out(JSON.stringify(await gateway.simulate(parsed.input!), null, 2));
    return 0;
  } catch (e) {
    err(`gatehouse simulate: ${(e as Error).message}`);
    return 1;
  } finally {
    await gateway.closeOffline();
  }
}
