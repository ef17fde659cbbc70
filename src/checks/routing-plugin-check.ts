/**
 * `gatehouse check` warnings for routing plugins whose decisions name pools the config does not have
 * (every such request falls back to the route's own pool, counted in
 * gatehouse_plugin_route_fallbacks_total). Two looks: pool names in the entry's options, and the
 * decisions the plugin makes, with the entry's options, for the requests of its route cases
 * (FILE.cases/*.json next to the plugin, as `gatehouse plugin test --cases` runs them).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { basename, join } from 'node:path';
import type { GatehouseConfig } from '../config/types.js';
import { didYouMean } from '../config/did-you-mean.js';
import { routeTargetsFrom } from '../plugins/decision-validate.js';
import { Plugin } from '../plugins/plugin.js';
import { registryOptionsFromConfig, resolveEntry } from '../plugins/plugin-registry.js';
import { requestViewFrom } from '../plugins/plugin-view.js';

const CHECK_TIMEOUT_MS = 2000;
const UNKNOWN_TARGET = /^route: (?:no configured pool "(.*)"|upstream (\S+) is not in any configured pool)$/;

/** Every string under a `pool` key, at any depth of the options. */
function poolNamesIn(value: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => poolNamesIn(v, found));
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'pool' && typeof v === 'string') found.add(v);
      else poolNamesIn(v, found);
    }
  }
  return found;
}

/** The route cases next to a plugin file: `canary.ts` → `canary.cases/*.json` with `"hook": "route"`. */
function routeCases(file: string): { name: string; request: unknown }[] {
  const dir = file.replace(/\.[cm]?[jt]s$/, '.cases');
  if (dir === file || !existsSync(dir)) return [];
  const cases: { name: string; request: unknown }[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    try {
      const c = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { hook?: string; request?: unknown };
      if (c.hook === 'route') cases.push({ name: `${basename(dir)}/${name}`, request: c.request ?? {} });
    } catch { /* a broken case is `gatehouse plugin test --cases`'s to report */ }
  }
  return cases;
}

/** `runCases: false` looks at the options only: no plugin process is started (the proxy at start and reload). */
export async function routingPluginWarnings(config: GatehouseConfig, opts: { runCases?: boolean } = {}): Promise<string[]> {
  const { dir, memoryLimitMb, cpuLimitMs, timeoutMs } = registryOptionsFromConfig(config.plugins);
  const poolNames = Object.keys(config.pools);
  const targets = routeTargetsFrom(Object.fromEntries(Object.entries(config.pools).map(([n, p]) => [n, p.upstreams.map((u) => u.url)])));
  const warnings: string[] = [];
  for (const [i, l] of config.reverse.entries()) {
    for (const [j, r] of l.routes.entries()) {
      for (const [k, entry] of r.plugins.entries()) {
        const key = `reverse[${i}].routes[${j}].plugins[${k}]`;
        let resolved;
        try { resolved = resolveEntry(entry, dir); } catch { continue; } // reported as a problem by pluginProblems
        for (const pool of poolNamesIn(resolved.options)) {
          if (!poolNames.includes(pool)) warnings.push(`${key}: options name pool "${pool}", which is not in pools${didYouMean(pool, poolNames)}`);
        }
        const cases = opts.runCases === false ? [] : routeCases(resolved.file);
        if (cases.length === 0) continue;
        let plugin: Plugin;
        try {
          // generous limits: this looks at what the plugin decides, not how fast (the machine may be busy)
          plugin = await Plugin.load({
            name: basename(resolved.file), file: resolved.file, config: resolved.options, memoryLimitMb,
            cpuLimitMs: Math.max(cpuLimitMs ?? 0, CHECK_TIMEOUT_MS), timeoutMs: Math.max(timeoutMs ?? 0, CHECK_TIMEOUT_MS),
          });
        } catch { continue; } // a plugin that does not load is a problem reported by pluginProblems
        try {
          if (!plugin.has('route')) continue;
          for (const c of cases) {
            const result = await plugin.route(requestViewFrom(c.request), targets);
            const unknown = result.ok ? null : UNKNOWN_TARGET.exec(result.error.message);
            if (!unknown) continue;
            const named = unknown[1] !== undefined ? `pool "${unknown[1]}"${didYouMean(unknown[1], poolNames)}` : `upstream ${unknown[2]}`;
            warnings.push(`${key}: for the request of ${c.name}, route() names ${named}, which is not in pools; such requests fall back to the route's pool`);
          }
        } finally {
          plugin.close();
        }
      }
    }
  }
  return warnings;
}

/** The options' warnings in the log, at start and on reload (the cases run in `gatehouse check`). */
export async function logRoutingPluginWarnings(config: GatehouseConfig, log: Logger): Promise<void> {
  for (const warning of await routingPluginWarnings(config, { runCases: false })) log.warn({ warning }, 'routing plugin names a pool not in the config');
}
