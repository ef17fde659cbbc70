/**
 * Everything a forward listener decides with, compiled from its config in one place: the ACL,
 * the block trie (block_domains + block_lists), URL patterns, the SSRF guard, the users and groups
 * files, the parent proxy, the interception CA. Built once per config version (start and reload);
 * the same compilation answers `gatehouse check`, so a config that checks clean also starts.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { ForwardListener } from '../config/types.js';
import { InterceptCa } from '../tls/intercept-ca.js';
import { TlsConfigError } from '../tls/cert-files.js';
import { compileAcl, type Acl } from './acl.js';
import { buildBlockMatcher, type BlockEntry } from './block-list-loader.js';
import type { DomainTrie } from './domain-trie.js';
import { HtgroupFile } from './htgroup.js';
import { HtpasswdFile } from './htpasswd.js';
import { buildPac } from './pac.js';
import { ParentProxy } from './parent-proxy.js';
import { SsrfGuard, validateAllowDestinations, type LookupAll } from './ssrf-guard.js';
import { compileUrlFilter, type UrlFilter } from './url-filter.js';
import type { UnitLog } from './watched-file.js';

export interface ForwardPolicyOptions {
  readonly log?: UnitLog;
  /** Resolver for the SSRF guard (tests inject a stub; never a config key). */
  readonly lookup?: LookupAll;
  /** Follow the users/groups files on disk. Default true; `gatehouse check` turns it off. */
  readonly watch?: boolean;
}

export class ForwardPolicy {
  private constructor(
    readonly cfg: ForwardListener,
    readonly acl: Acl,
    readonly blocks: DomainTrie<BlockEntry>,
    readonly urls: UrlFilter,
    readonly ssrf: SsrfGuard,
    readonly connectPorts: ReadonlySet<number>,
    readonly users: HtpasswdFile | undefined,
    readonly groups: HtgroupFile | undefined,
    readonly parent: ParentProxy | undefined,
    readonly interceptCa: InterceptCa | undefined,
    /** CA list for verifying destination servers (system roots + intercept_tls.upstream_ca); undefined = node's default. */
    readonly upstreamCa: string[] | undefined,
    /** Block-list lines that were skipped, worth a warning at start. */
    readonly warnings: readonly string[],
  ) {}

  /** Compiles `cfg` (the listener at `key`, e.g. `forward[0]`); every problem comes back as `key.path: message`. */
  static async compile(cfg: ForwardListener, key: string, opts: ForwardPolicyOptions = {}): Promise<{ policy?: ForwardPolicy; problems: string[] }> {
    const problems: string[] = [];
    // rule names (`acl[2]` unless named) appear in logs and block pages: keep them short
    const acl = compileAcl(cfg.acl, 'acl');
    if (acl.errors) problems.push(...acl.errors.map((e) => `${key}.${e}`));
    const blocks = await buildBlockMatcher({ blockDomains: cfg.block_domains, blockLists: cfg.block_lists }, key);
    problems.push(...blocks.errors);
    const urls = compileUrlFilter(cfg.block_urls, 'block_urls');
    if (urls.errors) problems.push(...urls.errors.map((e) => `${key}.${e}`));
    problems.push(...validateAllowDestinations(cfg.allow_destinations, `${key}.allow_destinations`));
    const pac = buildPac({ proxy: cfg.pac.proxy || '127.0.0.1:3128', direct: cfg.pac.internal_domains }, `${key}.pac`);
    if (pac.errors) problems.push(...pac.errors.map((e) => e.replace(`${key}.pac.direct`, `${key}.pac.internal_domains`)));
    if (acl.acl?.usesIdentity && !cfg.auth.users_file) problems.push(`${key}.acl: rules with user or group need auth.users_file`);
    if (cfg.auth.groups_file && !cfg.auth.users_file) problems.push(`${key}.auth.groups_file: needs auth.users_file`);
    let parent: ParentProxy | undefined;
    if (cfg.parent) {
      try { parent = new ParentProxy(cfg.parent, cfg.direct_domains, key); } catch (e) { problems.push(...(e as Error).message.split('\n')); }
    }
    let upstreamCa: string[] | undefined;
    if (cfg.intercept_tls.upstream_ca) {
      try { upstreamCa = [...rootCertificates, readFileSync(cfg.intercept_tls.upstream_ca, 'utf8')]; } catch (e) {
        problems.push(`${key}.intercept_tls.upstream_ca: cannot read ${JSON.stringify(cfg.intercept_tls.upstream_ca)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
    let interceptCa: InterceptCa | undefined;
    if (cfg.intercept_tls.enabled) {
      try { interceptCa = new InterceptCa(cfg.intercept_tls, { keyPrefix: `${key}.intercept_tls` }); } catch (e) {
        if (e instanceof TlsConfigError) problems.push(...e.problems.map((p) => `${p.key}: ${p.message}`));
        else problems.push(`${key}.intercept_tls: ${(e as Error).message}`);
      }
    }
    const watch = opts.watch ?? true;
    let users: HtpasswdFile | undefined;
    let groups: HtgroupFile | undefined;
    if (cfg.auth.users_file) {
      try { users = await HtpasswdFile.open(cfg.auth.users_file, { log: opts.log, watch }); } catch (e) {
        problems.push(`${key}.auth.users_file: cannot read ${JSON.stringify(cfg.auth.users_file)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
    if (cfg.auth.groups_file) {
      try { groups = await HtgroupFile.open(cfg.auth.groups_file, { log: opts.log, watch }); } catch (e) {
        problems.push(`${key}.auth.groups_file: cannot read ${JSON.stringify(cfg.auth.groups_file)}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
    if (problems.length || !acl.acl || !urls.filter) {
      users?.close();
      groups?.close();
      return { problems };
    }
    const ssrf = new SsrfGuard({
      allowPrivateDestinations: cfg.allow_private_destinations, allowDestinations: cfg.allow_destinations, lookup: opts.lookup,
    });
    const policy = new ForwardPolicy(
      cfg, acl.acl, blocks.trie, urls.filter, ssrf, new Set(cfg.connect_ports), users, groups, parent, interceptCa, upstreamCa, blocks.warnings,
    );
    return { policy, problems };
  }

  /** The parent to use for `host`, or undefined to go direct. */
  parentFor(host: string): ParentProxy | undefined {
    return this.parent?.handles(host) ? this.parent : undefined;
  }

  /** Stops following the users and groups files. */
  close(): void {
    this.users?.close();
    this.groups?.close();
  }
}

/** `gatehouse check` and startup: every problem of every forward listener, files included. */
export async function forwardProblems(listeners: readonly ForwardListener[]): Promise<string[]> {
  const all: string[] = [];
  for (const [i, cfg] of listeners.entries()) {
    const { policy, problems } = await ForwardPolicy.compile(cfg, `forward[${i}]`, { watch: false });
    policy?.close();
    all.push(...problems);
  }
  return all;
}
