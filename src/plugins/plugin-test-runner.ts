/**
 * `gatehouse plugin test FILE [--request FIXTURE.json] [--cases DIR] [--hook H] [--cpu-limit 50ms]
 * [--timeout 500ms] [--memory-limit 32MB]`: runs a plugin in its own process, as the proxy does, with
 * the same limits, prints decisions
 * as JSON, and in `--cases` mode compares each case's decision with its `expect`.
 * Exit: 0 all good, 1 a mismatch / failed call / plugin that does not load, 2 bad usage.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseDuration, parseSize } from '../config/units.js';
import { routeTargetsFrom, validateDecision } from './decision-validate.js';
import { Plugin } from './plugin.js';
import { PluginLoadError } from './plugin-source.js';
import { HOOKS, type CallResult, type HookName, type PluginLogger } from './plugin-types.js';
import { requestViewFrom, responseViewFrom } from './plugin-view.js';

/** One case file (also accepted as a `--request` fixture). Only `request` fields are needed. */
interface TestCase {
  request?: unknown;
  hook?: HookName;
  response?: unknown;
  config?: Record<string, unknown>;
  /** `{ pool: [upstream urls] }` for route checks; without it any pool / http(s) URL passes. */
  pools?: Record<string, string[]>;
  /** Call the hook this many times (module state!) and compare the last result. Default 1. */
  repeat?: number;
  expect?: unknown;
  /** Expect a failed call of this kind instead of a decision (e.g. "malformed"). */
  expect_error?: string;
}

class UsageError extends Error {}

interface Args { file: string; request?: string; cases?: string; hook?: HookName; cpuLimitMs?: number; timeoutMs?: number; memoryLimitMb?: number }

function parseArgs(argv: string[]): Args {
  const args: Partial<Args> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '--request') args.request = value();
      else if (a === '--cases') args.cases = value();
      else if (a === '--hook') args.hook = hookName(value());
      else if (a === '--cpu-limit') args.cpuLimitMs = parseDuration(value());
      else if (a === '--timeout') args.timeoutMs = parseDuration(value());
      else if (a === '--memory-limit') args.memoryLimitMb = Math.max(8, Math.round(parseSize(value()) / 1024 / 1024));
      else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
      else if (args.file === undefined) args.file = a;
      else throw new UsageError(`unexpected argument ${a}`);
    } catch (err) {
      throw err instanceof UsageError ? err : new UsageError(`${a}: ${(err as Error).message}`);
    }
  }
  if (!args.file) throw new UsageError('missing plugin FILE');
  if (args.request && args.cases) throw new UsageError('use either --request or --cases');
  return args as Args;
}

function hookName(v: unknown): HookName {
  if (v === undefined) return 'onRequest';
  if (typeof v === 'string' && (HOOKS as readonly string[]).includes(v)) return v as HookName;
  throw new UsageError(`hook must be one of ${HOOKS.join(', ')}, got ${JSON.stringify(v)}`);
}

const USAGE = 'Usage: gatehouse plugin test FILE [--request FIXTURE.json | --cases DIR] [--hook onRequest|route|onResponse] [--cpu-limit 50ms] [--timeout 500ms] [--memory-limit 32MB]';

const HELP = `${USAGE}

Runs a plugin in its own process, as the proxy does, with the same limits, and prints what it decides.

  --request FILE      a request fixture: a request view ({ "method", "url", "headers", "client": { "ip" } … })
                      or a case ({ "request", "hook", "config", "pools", "response" }); default: GET /
  --cases DIR         runs every DIR/*.json case and compares each decision with its "expect"
                      (or "expect_error"); prints ok/FAIL per case; exit 1 when one fails
  --hook NAME         the hook to call; without it every hook the plugin exports runs, each
                      printed under its name (a case's own "hook" wins; in --cases the default is onRequest)
  --cpu-limit DURATION  CPU time per call (default as plugins.cpu_limit)
  --timeout DURATION  wall time per call (default as plugins.timeout)
  --memory-limit SIZE the isolate's memory limit (default as plugins.memory_limit)

Exit status: 0 ok, 1 a mismatch, a failed call or a plugin that does not load, 2 bad usage.`;

/** `err` gets usage errors and load failures; decisions and case results go to `out`. */
export async function runPluginTest(argv: string[], out: (line: string) => void, err: (line: string) => void = out): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { out(HELP); return 0; }
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    err(`gatehouse plugin test: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const harness = new Harness(resolve(args.file), args, out);
  try {
    if (args.cases) return await harness.runCases(resolve(args.cases));
    const fixture = args.request ? readJson(resolve(args.request)) : {};
    return await harness.runOne(fixture);
  } catch (e) {
    err(e instanceof UsageError || e instanceof PluginLoadError ? e.message : `error: ${String((e as Error)?.message ?? e)}`);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    harness.close();
  }
}

function readJson(file: string): unknown {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) { throw new UsageError(`cannot read ${file}: ${(err as Error).message}`); }
  try { return JSON.parse(text); } catch (err) { throw new Error(`${file}: invalid JSON: ${(err as Error).message}`); }
}

/** A fixture is either a bare request view or a case object (has `request`). */
function asCase(fixture: unknown): TestCase {
  if (typeof fixture === 'object' && fixture !== null && 'request' in fixture) return fixture as TestCase;
  return { request: fixture };
}

class Harness {
  #plugins = new Map<string, Promise<Plugin>>();
  #logger: PluginLogger;

  constructor(private readonly file: string, private readonly args: Args, private readonly out: (line: string) => void) {
    const line = (level: string) => (obj: object, msg: string) => {
      const o = obj as { line?: string; err?: string };
      if (msg === 'plugin log') out(`  [log ${level}] ${o.line ?? ''}`);
    };
    this.#logger = { info: line('info'), warn: line('warn'), error: line('error') };
  }

  /** One hook (--hook, or the fixture's own) prints its decision alone; else every exported hook runs, each under its name. */
  async runOne(fixture: unknown): Promise<number> {
    const c = asCase(fixture);
    const chosen = this.args.hook ?? (c.hook === undefined ? undefined : hookName(c.hook));
    const print = async (hook: HookName): Promise<boolean> => {
      const result = await this.#call(c, hook);
      this.out(JSON.stringify(result.ok ? result.decision : { error: result.error }, null, 2));
      return result.ok;
    };
    if (chosen) return (await print(chosen)) ? 0 : 1;
    const plugin = await this.#plugin(c.config ?? {});
    let failed = false;
    for (const hook of HOOKS.filter((h) => plugin.has(h))) {
      this.out(`${hook}:`);
      if (!(await print(hook))) failed = true;
    }
    return failed ? 1 : 0;
  }

  async runCases(dir: string): Promise<number> {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
    } catch (err) {
      throw new UsageError(`cannot read cases dir ${dir}: ${(err as Error).message}`);
    }
    if (names.length === 0) throw new UsageError(`no *.json cases in ${dir}`);
    let failed = 0;
    for (const name of names) {
      const problem = await this.#runCase(join(dir, name));
      if (problem) { failed++; this.out(`FAIL ${name}: ${problem}`); } else this.out(`ok   ${name}`);
    }
    this.out(`${names.length - failed} passed, ${failed} failed (${basename(this.file)})`);
    return failed ? 1 : 0;
  }

  close(): void {
    for (const p of this.#plugins.values()) void p.then((plugin) => plugin.close(), () => undefined);
  }

  /** Returns a problem description, or undefined when the case passes. */
  async #runCase(path: string): Promise<string | undefined> {
    let c: TestCase;
    let hook: HookName;
    try {
      c = asCase(readJson(path));
      hook = hookName(c.hook);
    } catch (err) {
      return (err as Error).message;
    }
    let result = await this.#call(c, hook);
    for (let i = 1; i < (c.repeat ?? 1); i++) result = await this.#call(c, hook);
    if (c.expect_error !== undefined) {
      return !result.ok && result.error.kind === c.expect_error ? undefined
        : `expected error ${c.expect_error}, got ${JSON.stringify(result.ok ? result.decision : result.error)}`;
    }
    if (!result.ok) return `call failed: ${result.error.kind}: ${result.error.message}`;
    // Normalize the expectation the same way as the decision ({} = null, header names lower-case).
    const norm = validateDecision(hook, c.expect ?? null);
    const expected = norm.ok ? norm.decision : c.expect;
    return isDeepStrictEqual(result.decision, expected) ? undefined
      : `expected ${JSON.stringify(expected)}, got ${JSON.stringify(result.decision)}`;
  }

  async #call(c: TestCase, hook: HookName): Promise<CallResult<unknown>> {
    const plugin = await this.#plugin(c.config ?? {});
    const req = requestViewFrom(c.request);
    if (hook === 'onRequest') return plugin.onRequest(req);
    if (hook === 'route') return plugin.route(req, c.pools ? routeTargetsFrom(c.pools) : undefined);
    return plugin.onResponse(responseViewFrom(c.response), req);
  }

  // One instance per distinct config, shared by the cases using it (module state carries over, in file order).
  #plugin(config: Record<string, unknown>): Promise<Plugin> {
    const key = JSON.stringify(config);
    let p = this.#plugins.get(key);
    if (!p) {
      p = Plugin.load({ name: basename(this.file), file: this.file, config, cpuLimitMs: this.args.cpuLimitMs,
        timeoutMs: this.args.timeoutMs, memoryLimitMb: this.args.memoryLimitMb, logger: this.#logger });
      this.#plugins.set(key, p);
    }
    return p;
  }
}
