/** The config a reload would apply: read from the file, checked, its routing-plugin warnings logged; or why it is refused (logged too). */
import type { Logger } from 'pino';
import { ConfigError, loadConfig } from '../config/load.js';
import type { GatehouseConfig } from '../config/types.js';
import { runtimeProblems } from './runtime-checks.js';
import { logRoutingPluginWarnings } from './routing-plugin-check.js';

export async function loadCheckedConfig(configFile: string, log: Logger): Promise<{ config: GatehouseConfig } | { problems: string[] }> {
  let config: GatehouseConfig;
  try {
    config = loadConfig(configFile);
  } catch (e) {
    const problems = e instanceof ConfigError ? e.problems : [(e as Error).message];
    log.error({ problems }, 'reload refused');
    return { problems };
  }
  const problems = await runtimeProblems(config);
  if (problems.length) {
    log.error({ problems }, 'reload refused: invalid config');
    return { problems };
  }
  await logRoutingPluginWarnings(config, log);
  return { config };
}
