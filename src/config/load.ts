/**
 * Loads a config file (YAML or JSON), applies GATEHOUSE_* environment overrides, validates everything and
 * returns a frozen, normalised config — or throws ConfigError listing every problem as `key.path: message`.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import convict from 'convict';
import { conform } from './shape.js';
import { http2Shape, listSections, topSchema } from './schema.js';
import { parseDuration, parseSize } from './units.js';
import { originOf } from './origin.js';
import { adminExposureProblem } from './admin-exposure.js';
import { didYouMean } from './did-you-mean.js';
import type { GatehouseConfig, Http2Options, Limits } from './types.js';

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

/** For an undeclared key path (convict names the leaf: `lgo.level`), the first unknown part and its known siblings. */
function unknownKey(path: string): { key: string; known: string[] } {
  const parts = path.split('.');
  let node = topSchema as unknown as SchemaNode;
  for (let i = 0; i < parts.length; i++) {
    const next = node[parts[i]!] as SchemaNode | undefined;
    if (!next || isLeaf(next)) {
      const known = [...Object.keys(node), ...(i === 0 ? Object.keys(listSections) : [])];
      return { key: parts.slice(0, i + 1).join('.'), known };
    }
    node = next;
  }
  return { key: path, known: [] };
}

/** Rewrites convict's messages into `key: message`, one line per unknown key. */
function convictProblems(message: string): string[] {
  const lines = message.split('\n').filter(Boolean).map((line) => {
    const undeclared = /configuration param '([^']+)' not declared in the schema/.exec(line);
    if (undeclared) {
      const { key, known } = unknownKey(undeclared[1]!);
      return `${key}: unknown key${didYouMean(key.split('.').pop()!, known)}`;
    }
    return line.replace(/^([\w.]+): (.*?)(?:: value was (.*))?$/, (_m, key: string, msg: string, was?: string) =>
      `${key}: ${msg}${was && !msg.includes('got ') ? ` (got ${was})` : ''}`);
  });
  return [...new Set(lines)];
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
  // References are checked even when keys are wrong, so one run reports every problem.
  problems.push(...crossCheck(cfg as unknown as GatehouseConfig));
  if (problems.length) throw new ConfigError(problems);
  return finish(cfg as unknown as GatehouseConfig);
}

export function loadConfig(file: string, opts: LoadOptions = {}): GatehouseConfig {
  return buildConfig(readConfigFile(file), opts);
}

/**
 * Checks that span keys: references between sections, duplicate addresses. Runs on a config that may
 * have failed other checks, so every part it reads may be missing or of the wrong type.
 */
function crossCheck(cfg: GatehouseConfig): string[] {
  const problems: string[] = [];
  const poolMap: GatehouseConfig['pools'] = isMap(cfg.pools) ? cfg.pools : {};
  const pools = new Set(Object.keys(poolMap));
  const unknownPool = (key: string, name: string) => `${key}: unknown pool "${name}"${didYouMean(name, pools)}`;
  const seen = new Map<string, string>();
  const claim = (addr: unknown, key: string) => {
    if (typeof addr !== 'string' || addr.endsWith(':0')) return; // ephemeral ports never collide
    const prior = seen.get(addr);
    if (prior) problems.push(`${key}: address ${addr} is already used by ${prior}`);
    else seen.set(addr, key);
  };
  if (cfg.admin?.listen) claim(cfg.admin.listen, 'admin.listen');
  let exposed: string | undefined;
  try { exposed = cfg.admin && adminExposureProblem(cfg.admin.listen, cfg.admin.token); } catch { /* a bad address is reported by its own check */ }
  if (exposed) problems.push(exposed);
  listOf(cfg.reverse).forEach((l, i) => {
    claim(l?.listen, `reverse[${i}].listen`);
    listOf(l?.routes).forEach((r, j) => {
      if (typeof r?.pool !== 'string') return;
      if (!pools.has(r.pool)) problems.push(unknownPool(`reverse[${i}].routes[${j}].pool`, r.pool));
      else if (listOf(poolMap[r.pool]?.upstreams).some((u) => typeof u?.url === 'string' && u.url.startsWith('tcp:'))) {
        problems.push(`reverse[${i}].routes[${j}].pool: pool "${r.pool}" has tcp:// upstreams, which only tcp listeners can use`);
      }
    });
  });
  listOf(cfg.forward).forEach((l, i) => claim(l?.listen, `forward[${i}].listen`));
  listOf(cfg.tcp).forEach((l, i) => {
    claim(l?.listen, `tcp[${i}].listen`);
    if (typeof l?.pool === 'string' && !pools.has(l.pool)) problems.push(unknownPool(`tcp[${i}].pool`, l.pool));
  });
  for (const [name, pool] of Object.entries(poolMap)) {
    if (!isMap(pool)) continue; // reported by the shape check
    if (Array.isArray(pool.upstreams) && pool.upstreams.length === 0) problems.push(`pools.${name}.upstreams: must list at least one upstream`);
    const urls = new Set<string>();
    listOf(pool.upstreams).forEach((u, i) => {
      if (typeof u?.url !== 'string') return;
      let origin: string;
      try { origin = originOf(u.url); } catch { return; } // a bad URL is reported by the shape check
      if (urls.has(origin)) problems.push(`pools.${name}.upstreams[${i}].url: ${u.url} is listed twice`);
      urls.add(origin);
    });
    if (pool.balance === 'consistent_hash' && typeof pool.hash_key === 'string' && !/^(ip|path|header:[\w-]+|cookie:[\w-]+)$/.test(pool.hash_key)) {
      problems.push(`pools.${name}.hash_key: must be ip, path, header:NAME or cookie:NAME, got "${pool.hash_key}"`);
    }
  }
  return problems;
}

const isMap = (v: unknown): v is object => typeof v === 'object' && v !== null && !Array.isArray(v);
/** The list's entries, or none when the value is not a list (already reported). */
const listOf = <T>(v: readonly T[] | undefined): readonly (T | undefined)[] => (Array.isArray(v) ? v : []);

/** Fills derived values (route names, merged limits, tcp listeners' per-address caps) and freezes the result. */
function finish(cfg: GatehouseConfig): GatehouseConfig {
  const mergeLimits = (own: Partial<Limits>): Limits => ({ ...cfg.limits, ...own, rate: { ...cfg.limits.rate, ...own.rate } });
  for (const l of cfg.reverse) {
    l.limits = mergeLimits(l.limits);
    l.routes.forEach((r, i) => { r.name ??= `route${i}`; });
    if ((l.http2 as unknown) === true) l.http2 = conform({}, http2Shape, '', []) as Http2Options;
  }
  for (const l of cfg.forward) l.limits = mergeLimits(l.limits);
  for (const l of cfg.tcp) {
    l.max_connections_per_ip ??= cfg.limits.max_connections_per_ip;
    l.per_ip_exempt ??= cfg.limits.per_ip_exempt;
  }
  return deepFreeze(cfg);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
