/** Checks beyond the schema that need the file system: certificates and keys, block lists, plugins. */
import type { GatehouseConfig } from '../config/types.js';
import { validateReverseTls } from '../tls/sni-contexts.js';
import { pluginProblems } from '../plugins/plugin-config-check.js';
import { forwardProblems } from '../forward/forward-policy.js';

export async function runtimeProblems(config: GatehouseConfig): Promise<string[]> {
  const problems: string[] = [];
  config.reverse.forEach((l, i) => {
    if (l.tls) problems.push(...validateReverseTls(l.tls, { keyPrefix: `reverse[${i}].tls` }).map((p) => `${p.key}: ${p.message}`));
  });
  problems.push(...pluginProblems(config));
  // ACLs, block lists, users/groups files, intercept CA, allow_destinations, parent, PAC
  problems.push(...await forwardProblems(config.forward));
  return problems;
}
