/** What SIGHUP and POST /reload do in a single process: read the config file again, check it, apply it. */
import type { Logger } from 'pino';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Gateway } from '../gateway.js';
import { runtimeProblems } from '../checks/runtime-checks.js';
import { logRoutingPluginWarnings } from '../checks/routing-plugin-check.js';

/** Returns the problems that refused the reload (logged too); none when the new config is running. */
export async function reloadFromFile(configFile: string, gateway: Gateway, log: Logger): Promise<string[]> {
  try {
    const next = loadConfig(configFile);
    const issues = await runtimeProblems(next);
    if (issues.length) { log.error({ problems: issues }, 'reload refused: invalid config'); return issues; }
    await logRoutingPluginWarnings(next, log);
    await gateway.reload(next);
    return [];
  } catch (e) {
    const issues = e instanceof ConfigError ? e.problems : [(e as Error).message];
    log.error({ problems: issues }, 'reload refused');
    return issues;
  }
}
