/** `gatehouse check` and startup: every configured plugin compiled and smoke-called, problems as `key: file:line:col: message`. */
import type { GatehouseConfig } from '../config/types.js';
import { configuredPlugins } from './plugin-host.js';
import { checkPlugin, registryOptionsFromConfig, resolveEntry } from './plugin-registry.js';

export async function pluginProblems(config: GatehouseConfig): Promise<string[]> {
  const { dir, memoryLimitMb, cpuLimitMs, timeoutMs } = registryOptionsFromConfig(config.plugins);
  const seen = new Map<string, Promise<string[]>>();
  const problems: string[] = [];
  for (const { key, entry } of configuredPlugins(config)) {
    let found: string[];
    try {
      const r = resolveEntry(entry, dir);
      // an entry listed on several routes is compiled once
      const id = `${r.file}\0${JSON.stringify(r.options)}`;
      const check = seen.get(id) ?? checkPlugin(r.file, { memoryLimitMb, cpuLimitMs, timeoutMs, options: r.options });
      seen.set(id, check);
      found = await check;
    } catch (e) {
      found = [(e as Error).message];
    }
    problems.push(...found.map((m) => `${key}: ${m}`));
  }
  return problems;
}
