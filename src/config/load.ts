/**
 * Loads a config file (YAML or JSON), applies GATEHOUSE_* environment overrides, validates everything and
 * returns a frozen, normalised config — or throws ConfigError listing every problem as `key.path: message`.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import convict from 'convict';
import { conform } from './shape.js';
import { listSections, topSchema } from './schema.js';
import { parseDuration, parseSize } from './units.js';
import { originOf } from '../core/origin.js';
import { adminExposureProblem } from '../admin/admin-guard.js';
import type { GatehouseConfig, Limits } from './types.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

type SchemaNode = Record<string, unknown>;
const isLeaf = (n: SchemaNode) => 'format' in n && 'default' in n;

/** Gives every scalar schema leaf its environment variable: GATEHOUSE_ + upper-snake key path. */
function withEnvNames(node: SchemaNode, path: string[] = []): SchemaNode {
  if (isLeaf(node)) return { ...node, env: `GATEHOUSE_${path.join('_').toUpperCase()}` };
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, withEnvNames(v as SchemaNode, [...path, k])]));
}
const schemaWithEnv = withEnvNames(topSchema as unknown as SchemaNode);

/** Converts duration and size leaves from their human form to ms and bytes. */
function normaliseUnits(node: SchemaNode, value: Record<string, unknown>): void {
  for (const [k, child] of Object.entries(node)) {
    const c = child as SchemaNode;
    if (isLeaf(c)) {
      if (c.format === 'duration') value[k] = parseDuration(value[k]);
      else if (c.format === 'size') value[k] = parseSize(value[k]);
    } else normaliseUnits(c, value[k] as Record<string, unknown>);
  }
}

/** Rewrites convict's messages into `key: message`. */
function convictProblems(message: string): string[] {
  return message.split('\n').filter(Boolean).map((line) => {
    const undeclared = /configuration param '([^']+)' not declared in the schema/.exec(line);
    if (undeclared) return `${undeclared[1]}: unknown key`;
    return line.replace(/^([\w.]+): (.*?)(?:: value was (.*))?$/, (_m, key: string, msg: string, was?: string) =>
      `${key}: ${msg}${was && !msg.includes('got ') ? ` (got ${was})` : ''}`);
  });
}

export function readConfigFile(file: string): unknown {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    throw new ConfigError([`config: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`]);
  }
  try {
    const data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    return data ?? {};
  } catch (e) {
    throw new ConfigError([`config: ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`]);
  }
}

export interface LoadOptions { env?: NodeJS.ProcessEnv }

/** Validates raw config data (already parsed) with environment overrides. */
export function buildConfig(data: unknown, opts: LoadOptions = {}): GatehouseConfig {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new ConfigError(['config: must be a map of keys']);
  const env = opts.env ?? process.env;
  const { forward, reverse, tcp, pools, ...top } = data as Record<string, unknown>;
  const lists: Record<string, unknown> = { forward, reverse, tcp, pools };
  const conf = convict(schemaWithEnv as never, { env, args: [] });
  const problems: string[] = [];
  try {
    conf.load(top);
    conf.validate({ allowed: 'strict' });
  } catch (e) {
    problems.push(...convictProblems((e as Error).message));
  }
  const cfg: Record<string, unknown> = { ...(conf.getProperties() as object) };
  if (problems.length === 0) normaliseUnits(topSchema as unknown as SchemaNode, cfg);
  for (const [key, field] of Object.entries(listSections)) {
    const envName = `GATEHOUSE_${key.toUpperCase()}`;
    let value = lists[key] ?? structuredClone(field.default);
    if (env[envName]) {
      try { value = JSON.parse(env[envName]!); } catch { problems.push(`${key}: ${envName} is not valid JSON`); continue; }
    }
    cfg[key] = conform(value, field.shape, key, problems);
  }
  if (problems.length === 0) problems.push(...crossCheck(cfg as unknown as GatehouseConfig));
  if (problems.length) throw new ConfigError(problems);
  return finish(cfg as unknown as GatehouseConfig);
}

export function loadConfig(file: string, opts: LoadOptions = {}): GatehouseConfig {
  return buildConfig(readConfigFile(file), opts);
}

/** Checks that span keys: references between sections, duplicate addresses. */
function crossCheck(cfg: GatehouseConfig): string[] {
  const problems: string[] = [];
  const pools = new Set(Object.keys(cfg.pools));
  const seen = new Map<string, string>();
  const claim = (addr: string, key: string) => {
    if (addr.endsWith(':0')) return; // ephemeral ports never collide
    const prior = seen.get(addr);
    if (prior) problems.push(`${key}: address ${addr} is already used by ${prior}`);
    else seen.set(addr, key);
  };
  if (cfg.admin.listen) claim(cfg.admin.listen, 'admin.listen');
  const exposed = adminExposureProblem(cfg.admin.listen, cfg.admin.token);
  if (exposed) problems.push(exposed);
  cfg.reverse.forEach((l, i) => {
    claim(l.listen, `reverse[${i}].listen`);
    l.routes.forEach((r, j) => {
      if (r.pool !== undefined && !pools.has(r.pool)) problems.push(`reverse[${i}].routes[${j}].pool: unknown pool "${r.pool}"`);
      else if (r.pool !== undefined && cfg.pools[r.pool]!.upstreams.some((u) => u.url.startsWith('tcp:'))) {
        problems.push(`reverse[${i}].routes[${j}].pool: pool "${r.pool}" has tcp:// upstreams, which only tcp listeners can use`);
      }
    });
  });
  cfg.forward.forEach((l, i) => claim(l.listen, `forward[${i}].listen`));
  cfg.tcp.forEach((l, i) => {
    claim(l.listen, `tcp[${i}].listen`);
    if (!pools.has(l.pool)) problems.push(`tcp[${i}].pool: unknown pool "${l.pool}"`);
  });
  for (const [name, pool] of Object.entries(cfg.pools)) {
    if (pool.upstreams.length === 0) problems.push(`pools.${name}.upstreams: must list at least one upstream`);
    const urls = new Set<string>();
    pool.upstreams.forEach((u, i) => {
      const origin = originOf(u.url);
      if (urls.has(origin)) problems.push(`pools.${name}.upstreams[${i}].url: ${u.url} is listed twice`);
      urls.add(origin);
    });
    if (pool.balance === 'consistent_hash' && !/^(ip|path|header:[\w-]+|cookie:[\w-]+)$/.test(pool.hash_key)) {
      problems.push(`pools.${name}.hash_key: must be ip, path, header:NAME or cookie:NAME, got "${pool.hash_key}"`);
    }
  }
  return problems;
}

/** Fills derived values (route names, merged limits) and freezes the result. */
function finish(cfg: GatehouseConfig): GatehouseConfig {
  const mergeLimits = (own: Partial<Limits>): Limits => ({ ...cfg.limits, ...own, rate: { ...cfg.limits.rate, ...own.rate } });
  for (const l of cfg.reverse) {
    l.limits = mergeLimits(l.limits);
    l.routes.forEach((r, i) => { r.name ??= `route${i}`; });
  }
  for (const l of cfg.forward) l.limits = mergeLimits(l.limits);
  return deepFreeze(cfg);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
