/**
 * Forward-listener access control, compiled once per config:
 *
 *   acl:
 *     - { name: office, allow: { src: [10.0.0.0/8], dst_port: [80, 443] } }
 *     - { deny: { dst_domain: [.facebook.com], time: { days: [mon-fri], hours: "09:00-17:00" } } }
 *     - { allow: { group: [staff], method: [CONNECT] } }
 *
 * Rules are tried in order; the first whose conditions ALL hold decides; no match = deny.
 * Conditions (each optional; a list matches when any element matches):
 * - `src`: CIDRs or IPs, IPv4 and IPv6, checked against the socket peer (IPv4-mapped peers such
 *   as ::ffff:127.0.0.1 count as IPv4); never X-Forwarded-For.
 * - `user`, `group`: the authenticated identity (exact, case-sensitive as htpasswd).
 * - `dst_domain`: domain patterns (exact, `*.sub`, Squid `.apex-and-sub`; see domain-trie.ts).
 * - `dst_port`: numbers or ranges `"8000-8999"`. `method`: e.g. `CONNECT`, `GET` (any case).
 * - `time`: see acl-time.ts.
 * A rule with `user`/`group` met by an anonymous request, whose other conditions hold, stops the
 * walk with `authRequired` (answer 407, as Squid challenges) instead of falling through.
 */

import { BlockList, isIP } from 'node:net';
import { compileTime, type TimeMatcher } from './acl-time.js';
import { DomainTrie } from './domain-trie.js';
import { mappedIPv4, parseCidr } from '../core/cidr.js';

/** What the ACL sees of a request. `host` should be normalised (core/host.ts). */
export interface AclRequest {
  readonly srcIp: string;
  readonly user?: string;
  readonly groups?: ReadonlySet<string>;
  readonly host: string;
  readonly port: number;
  readonly method: string;
  /** Default: now. */
  readonly now?: Date;
}

export interface AclDecision {
  readonly action: 'allow' | 'deny';
  /** The deciding rule's `name`, else `acl[i]`; `default` when no rule matched. */
  readonly rule: string;
  /** Index of the deciding rule; -1 for the default deny. */
  readonly index: number;
  /** The request is anonymous and the deciding rule needs an identity: answer 407, not 403. */
  readonly authRequired: boolean;
}

interface Rule {
  readonly name: string;
  readonly action: 'allow' | 'deny';
  readonly src?: { v4: BlockList; v6: BlockList };
  readonly users?: ReadonlySet<string>;
  readonly groups?: readonly string[];
  readonly domains?: DomainTrie<true>;
  readonly ports?: readonly [number, number][];
  readonly methods?: ReadonlySet<string>;
  readonly time?: TimeMatcher;
}

const MATCH_KEYS = new Set(['src', 'user', 'group', 'dst_domain', 'dst_port', 'method', 'time']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export class Acl {
  readonly #rules: readonly Rule[];
  /** True when some rule has a `user` or `group` condition: the listener needs an identity source. */
  readonly usesIdentity: boolean;

  constructor(rules: readonly Rule[]) {
    this.#rules = rules;
    this.usesIdentity = rules.some((r) => r.users || r.groups);
  }

  get size(): number {
    return this.#rules.length;
  }

  evaluate(req: AclRequest): AclDecision {
    let peer: string | undefined;
    for (let i = 0; i < this.#rules.length; i++) {
      const r = this.#rules[i]!;
      if (r.methods && !r.methods.has(req.method.toUpperCase())) continue;
      if (r.ports && !r.ports.some(([lo, hi]) => req.port >= lo && req.port <= hi)) continue;
      if (r.src) {
        peer ??= canonicalPeer(req.srcIp);
        const family = isIP(peer);
        if (family === 0 || !(family === 4 ? r.src.v4.check(peer, 'ipv4') : r.src.v6.check(peer, 'ipv6'))) continue;
      }
      if (r.domains && !r.domains.match(req.host)) continue;
      if (r.time && !r.time(req.now ?? new Date())) continue;
      if (r.users || r.groups) {
        if (req.user === undefined) return { action: 'deny', rule: r.name, index: i, authRequired: true };
        const byUser = r.users?.has(req.user) ?? false;
        const byGroup = r.groups?.some((g) => req.groups?.has(g)) ?? false;
        if (!byUser && !byGroup) continue;
      }
      return { action: r.action, rule: r.name, index: i, authRequired: false };
    }
    return { action: 'deny', rule: 'default', index: -1, authRequired: false };
  }
}

/** Peer address as the ACL compares it: zone id dropped, IPv4-mapped IPv6 as IPv4. */
function canonicalPeer(ip: string): string {
  const bare = ip.includes('%') ? ip.slice(0, ip.indexOf('%')) : ip;
  return mappedIPv4(bare) ?? bare;
}

export type AclCompileResult = { readonly acl: Acl; readonly errors?: undefined } | { readonly acl?: undefined; readonly errors: readonly string[] };

/** Compiles the `acl` list; every problem comes back as `key: message` (key prefixed by `key`). */
export function compileAcl(config: unknown, key = 'acl'): AclCompileResult {
  const errors: string[] = [];
  if (!Array.isArray(config)) return { errors: [`${key}: must be a list of { allow: {…} } or { deny: {…} } rules`] };
  const rules: Rule[] = [];
  config.forEach((raw: unknown, i) => {
    const k = `${key}[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return void errors.push(`${k}: must be { allow: {…} } or { deny: {…} }`);
    const rule = raw as Record<string, unknown>;
    for (const extra of Object.keys(rule)) if (!['name', 'allow', 'deny'].includes(extra)) errors.push(`${k}.${extra}: unknown key`);
    if (('allow' in rule) === ('deny' in rule)) return void errors.push(`${k}: needs exactly one of allow or deny`);
    if (rule.name !== undefined && (typeof rule.name !== 'string' || rule.name === '')) errors.push(`${k}.name: must be a non-empty string`);
    const action = 'allow' in rule ? 'allow' : 'deny';
    const compiled = compileMatch(rule[action], `${k}.${action}`, errors);
    if (compiled) rules.push({ name: typeof rule.name === 'string' && rule.name ? rule.name : k, action, ...compiled });
  });
  return errors.length ? { errors } : { acl: new Acl(rules) };
}

function compileMatch(raw: unknown, k: string, errors: string[]): Omit<Rule, 'name' | 'action'> | undefined {
  if (raw === null || raw === undefined) return {}; // `allow:` with nothing = match all
  if (typeof raw !== 'object' || Array.isArray(raw)) return void errors.push(`${k}: must be an object of conditions`);
  const m = raw as Record<string, unknown>;
  for (const extra of Object.keys(m)) if (!MATCH_KEYS.has(extra)) errors.push(`${k}.${extra}: unknown condition (known: ${[...MATCH_KEYS].join(', ')})`);
  const out: { -readonly [P in keyof Omit<Rule, 'name' | 'action'>]?: Rule[P] } = {};

  if (m.src !== undefined) {
    const v4 = new BlockList();
    const v6 = new BlockList();
    list(m.src).forEach((s, j) => {
      const cidr = parseCidr(s);
      if (!cidr) return void errors.push(`${k}.src[${j}]: invalid CIDR or IP ${JSON.stringify(s)}`);
      if (cidr.family === 4) v4.addSubnet(cidr.address, cidr.prefix, 'ipv4');
      else v6.addSubnet(cidr.address, cidr.prefix, 'ipv6');
    });
    out.src = { v4, v6 };
  }
  if (m.user !== undefined) out.users = new Set(strings(m.user, `${k}.user`, errors));
  if (m.group !== undefined) out.groups = strings(m.group, `${k}.group`, errors);
  if (m.dst_domain !== undefined) {
    const trie = new DomainTrie<true>();
    list(m.dst_domain).forEach((d, j) => {
      const err = typeof d === 'string' ? trie.add(d, true) : 'must be a string';
      if (err) errors.push(`${k}.dst_domain[${j}]: ${err}`);
    });
    out.domains = trie;
  }
  if (m.dst_port !== undefined) {
    out.ports = list(m.dst_port).flatMap((p, j): [number, number][] => {
      const range = parsePortRange(p);
      if (!range) errors.push(`${k}.dst_port[${j}]: expected a port (1-65535) or a range "8000-8999", got ${JSON.stringify(p)}`);
      return range ? [range] : [];
    });
  }
  if (m.method !== undefined) {
    out.methods = new Set(strings(m.method, `${k}.method`, errors).map((x) => x.toUpperCase()));
    for (const x of out.methods) if (!TOKEN.test(x)) errors.push(`${k}.method: invalid method ${JSON.stringify(x)}`);
  }
  if (m.time !== undefined) out.time = compileTime(m.time, `${k}.time`, errors);
  return out;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [v];
}

function strings(v: unknown, k: string, errors: string[]): string[] {
  return list(v).filter((s, j) => {
    const ok = typeof s === 'string' && s !== '';
    if (!ok) errors.push(`${k}[${j}]: must be a non-empty string`);
    return ok;
  }) as string[];
}

function parsePortRange(p: unknown): [number, number] | undefined {
  const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (typeof p === 'number') return valid(p) ? [p, p] : undefined;
  if (typeof p !== 'string') return undefined;
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(p);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return valid(lo) && valid(hi) && lo <= hi ? [lo, hi] : undefined;
}
