/** What SIGHUP and POST /reload do in a single process: read the config file again, check it, apply it. */
import type { Logger } from 'pino';
import { ConfigError } from '../config/load.js';
import type { Gateway } from '../gateway.js';
import { loadCheckedConfig } from '../checks/load-checked-config.js';

/** Returns the problems that refused the reload (logged too); none when the new config is running. */
export async function reloadFromFile(configFile: string, gateway: Gateway, log: Logger): Promise<string[]> {
  try {
    const checked = await loadCheckedConfig(configFile, log);
    if ('problems' in checked) return checked.problems;
    await gateway.reload(checked.config);
    return [];
  } catch (e) {
    const issues = e instanceof ConfigError ? e.problems : [(e as Error).message];
    log.error({ problems: issues }, 'reload refused');
    return issues;
  }
}
