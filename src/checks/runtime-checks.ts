/**
 * Checks beyond the schema that need the file system: certificates and keys, block lists, plugins. Run
 * by `gatehouse check`, at start-up and on reload, in one process and in a cluster's primary alike.
 */
import { readPemFile, type TlsProblem } from '../tls/cert-files.js';
import type { GatehouseConfig } from '../config/types.js';
import { validateReverseTls } from '../tls/sni-contexts.js';
import { pluginProblems } from '../plugins/plugin-config-check.js';
import { forwardProblems } from '../forward/forward-policy.js';
import { upstreamTlsProblems } from '../reverse/upstream-tls.js';
import { certificateWarnings } from '../tls/expiry-warnings.js';

export { certificateWarnings };

/**
 * `plugins: false` leaves the plugins out: the gateway loads them itself before it listens (or
 * before a reload changes anything) and reports them the same way, so they are not started twice.
 */
export async function runtimeProblems(config: GatehouseConfig, opts: { plugins?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  config.reverse.forEach((l, i) => {
    if (l.tls) problems.push(...validateReverseTls(l.tls, { keyPrefix: `reverse[${i}].tls` }).map((p) => `${p.key}: ${p.message}`));
    const caFile = l.tls?.acme?.directory_ca;
    if (caFile) {
      const caProblems: TlsProblem[] = [];
      readPemFile(caFile, `reverse[${i}].tls.acme.directory_ca`, caProblems);
      problems.push(...caProblems.map((p) => `${p.key}: ${p.message}`));
    }
  });
  for (const [name, pool] of Object.entries(config.pools)) {
    problems.push(...upstreamTlsProblems(pool.tls, `pools.${name}.tls`).problems.map((p) => `${p.key}: ${p.message}`));
  }
  if (opts.plugins !== false) problems.push(...await pluginProblems(config));
  // ACLs, block lists, users/groups files, intercept CA, allow_destinations, parent, PAC
  problems.push(...await forwardProblems(config.forward));
  return problems;
}
