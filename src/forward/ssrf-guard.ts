/**
 * SSRF guard for forward mode: decides whether a destination may be dialled, and hands back the
 * exact address to dial. It resolves the name once, checks every address the resolver gave, and
 * the caller connects to the returned address (never to the name again), so a DNS answer that
 * changes between check and connect (rebinding) cannot reach a refused range.
 *
 * Refused by default: see `ssrf-ranges.ts` (loopback, RFC 1918, link-local incl. 169.254.169.254,
 * CGNAT, unique-local, unspecified, multicast, broadcast, reserved, documentation, and IPv6 forms
 * embedding any of those). A name is refused when ANY of its addresses is refused: a public name
 * with a private record is a misconfiguration or an attack, and the log says which address.
 */

import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { mappedIPv4, parseCidr } from '../core/cidr.js';
import { DomainTrie } from './domain-trie.js';
import { normalizeHost } from '../core/host.js';
import { classifyAddress } from './ssrf-ranges.js';

export interface ResolvedAddress { readonly address: string; readonly family: 4 | 6 }

/** Resolver: every address of `hostname`, in the order to try them (dns.lookup all:true shape). */
export type LookupAll = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

export interface SsrfGuardOptions {
  /** Config `allow_private_destinations`: turns the range check off. Default false. */
  readonly allowPrivateDestinations?: boolean;
  /**
   * Config `allow_destinations`: exemptions. Each entry is a CIDR or IP (`10.1.0.0/16`,
   * `127.0.0.1`, `fd00::/8`), optionally with a port (`127.0.0.1:9001`, `[::1]:8080`,
   * `10.0.0.0/8:443`), or a domain pattern with an optional port (`intranet.corp:8080`,
   * `*.corp.example`). Write IPv4 ranges as IPv4: mapped addresses are checked as IPv4.
   */
  readonly allowDestinations?: readonly string[];
  /** Resolver, injectable for tests. Default: dns.lookup(all: true, order: verbatim). */
  readonly lookup?: LookupAll;
  /** Give up waiting for the resolver after this many ms (504 dns_timeout). Default 5000. */
  readonly lookupTimeoutMs?: number;
}

/** Allowed: dial `address` (the first checked address); `addresses` are all checked, for fallback. */
export interface SsrfTarget extends ResolvedAddress {
  /** The normalised host that was asked for. */
  readonly host: string;
  readonly addresses: readonly ResolvedAddress[];
}

/** Refused. `code` is the RFC 9209 Proxy-Status error type, `status` the HTTP status to answer. */
export interface SsrfDenial {
  readonly denied: string;
  readonly code: 'http_request_error' | 'destination_ip_prohibited' | 'dns_error' | 'dns_timeout';
  readonly status: 400 | 403 | 502 | 504;
}

export type SsrfVerdict = SsrfTarget | SsrfDenial;

export const isDenied = (v: SsrfVerdict): v is SsrfDenial => 'denied' in v;

const defaultLookup: LookupAll = (hostname) => dnsLookup(hostname, { all: true, order: 'verbatim' });

/** Compiled guard for one forward listener. Construct once per config; throws on invalid exemptions. */
export class SsrfGuard {
  readonly #allowPrivate: boolean;
  readonly #lookup: LookupAll;
  readonly #timeoutMs: number;
  readonly #cidrs = new Map<number, BlockList>(); // port (0 = any) → exempt ranges
  readonly #names = new Map<number, DomainTrie<true>>(); // port (0 = any) → exempt names

  constructor(opts: SsrfGuardOptions = {}) {
    this.#allowPrivate = opts.allowPrivateDestinations === true;
    this.#lookup = opts.lookup ?? defaultLookup;
    this.#timeoutMs = opts.lookupTimeoutMs ?? 5000;
    const errors = addExemptions(opts.allowDestinations ?? [], this.#cidrs, this.#names, 'allow_destinations');
    if (errors.length) throw new Error(errors.join('\n'));
  }

  /** Resolves `host` once and returns the address to dial, or why not. Never throws. */
  async resolveAndCheck(host: string, port: number): Promise<SsrfVerdict> {
    const n = normalizeHost(host);
    if (!n || !Number.isInteger(port) || port < 1 || port > 65535) {
      return { denied: `invalid destination ${JSON.stringify(`${host}:${port}`)}`, code: 'http_request_error', status: 400 };
    }
    const nameExempt = this.#nameExempt(n.host, port);
    let answers: readonly { address: string; family: number }[];
    if (n.kind !== 'name') answers = [{ address: n.host, family: n.kind === 'ipv4' ? 4 : 6 }];
    else {
      const got = await this.#resolve(n.host);
      if ('denied' in got) return got;
      answers = got;
    }
    const addresses: ResolvedAddress[] = [];
    for (const a of answers) {
      const address = canonicalAddress(a.address);
      if (address === undefined) {
        return { denied: `${n.host} resolved to a non-address ${JSON.stringify(a.address)}`, code: 'dns_error', status: 502 };
      }
      if (!this.#allowPrivate && !nameExempt && !this.#addressExempt(address, port)) {
        const why = classifyAddress(address);
        if (why !== undefined) {
          const via = address === n.host ? '' : ` (${n.host} resolves to it)`;
          return { denied: `destination ${address}${via} is ${why}`, code: 'destination_ip_prohibited', status: 403 };
        }
      }
      addresses.push({ address, family: isIP(address) === 4 ? 4 : 6 });
    }
    if (addresses.length === 0) return { denied: `${n.host} has no address`, code: 'dns_error', status: 502 };
    return { ...addresses[0]!, host: n.host, addresses };
  }

  async #resolve(name: string): Promise<readonly { address: string; family: number }[] | SsrfDenial> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<SsrfDenial>((resolve) => {
      timer = setTimeout(() => resolve({ denied: `DNS lookup of ${name} timed out`, code: 'dns_timeout', status: 504 }), this.#timeoutMs);
    });
    try {
      return await Promise.race([this.#lookup(name), timeout]);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      return { denied: `DNS lookup of ${name} failed: ${code}`, code: 'dns_error', status: 502 };
    } finally {
      clearTimeout(timer);
    }
  }

  #nameExempt(host: string, port: number): boolean {
    return this.#names.get(0)?.match(host) !== undefined || this.#names.get(port)?.match(host) !== undefined;
  }

  #addressExempt(address: string, port: number): boolean {
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    return this.#cidrs.get(0)?.check(address, type) === true || this.#cidrs.get(port)?.check(address, type) === true;
  }
}

/** One-shot form of `new SsrfGuard(opts).resolveAndCheck(host, port)`; prefer a long-lived guard. */
export function resolveAndCheck(host: string, port: number, opts: SsrfGuardOptions | SsrfGuard = {}): Promise<SsrfVerdict> {
  const guard = opts instanceof SsrfGuard ? opts : new SsrfGuard(opts);
  return guard.resolveAndCheck(host, port);
}

/** `key[i]: message` for every invalid `allow_destinations` entry (for `gatehouse check`). */
export function validateAllowDestinations(entries: readonly string[], key = 'allow_destinations'): string[] {
  return addExemptions(entries, new Map(), new Map(), key);
}

/** Lower-case IP literal to dial; IPv4-mapped IPv6 becomes plain IPv4. Undefined if not an IP. */
function canonicalAddress(raw: string): string | undefined {
  const family = isIP(raw);
  if (family === 4) return raw;
  if (family !== 6 || raw.includes('%')) return undefined;
  return mappedIPv4(raw) ?? raw.toLowerCase();
}

function addExemptions(
  entries: readonly string[], cidrs: Map<number, BlockList>, names: Map<number, DomainTrie<true>>, key: string,
): string[] {
  const errors: string[] = [];
  entries.forEach((raw, i) => {
    const fail = (msg: string) => errors.push(`${key}[${i}]: ${msg}`);
    if (typeof raw !== 'string' || raw.trim() === '') return void fail('must be a CIDR, an IP, or host:port');
    const parsed = splitTargetPort(raw.trim());
    if (typeof parsed === 'string') return void fail(parsed);
    const { target, port } = parsed;
    const cidr = parseCidr(target);
    if (cidr) {
      let list = cidrs.get(port);
      if (!list) cidrs.set(port, (list = new BlockList()));
      list.addSubnet(cidr.address, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
      return;
    }
    if (target.includes('/') || isIP(target.split('/')[0]!) !== 0) return void fail(`invalid CIDR ${JSON.stringify(raw)}`);
    let trie = names.get(port);
    if (!trie) names.set(port, (trie = new DomainTrie<true>()));
    const err = trie.add(target, true);
    if (err) fail(`${err}; expected a CIDR, an IP, or host:port`);
  });
  return errors;
}

/** `target[:port]` with IPv6 in brackets when a port follows; port 0 = any port. */
function splitTargetPort(raw: string): { target: string; port: number } | string {
  let target = raw;
  let portText: string | undefined;
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    if (close < 0) return `unclosed "[" in ${JSON.stringify(raw)}`;
    target = raw.slice(1, close);
    const after = raw.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return `unexpected text after "]" in ${JSON.stringify(raw)}`;
      portText = after.slice(1);
    }
  } else if (raw.split(':').length === 2) {
    [target, portText] = raw.split(':') as [string, string];
  }
  if (portText === undefined) return { target, port: 0 };
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return `invalid port in ${JSON.stringify(raw)}`;
  return { target, port };
}
