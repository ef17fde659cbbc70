/**
 * The one CIDR parser (config validation, ACLs, SSRF exemptions, the PAC builder) and the membership
 * test built on it (trusted proxies, purge ACL, per-IP exemptions, trace clients).
 */
import { BlockList, isIP, isIPv6 } from 'node:net';

/** The eight 16-bit groups of a valid IPv6 address (no zone id), or undefined. */
export function parseIPv6(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const octets = text.slice(lastColon + 1).split('.').map(Number);
    tail.push((octets[0]! << 8) | octets[1]!, (octets[2]! << 8) | octets[3]!);
    text = `${text.slice(0, lastColon + 1)}0:0`; // two placeholder groups, replaced below
  }
  const [head = '', rest] = text.split('::');
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  if (rest === undefined) groups = parse(head);
  else {
    const h = parse(head);
    const r = parse(rest);
    groups = [...h, ...new Array<number>(8 - h.length - r.length).fill(0), ...r];
  }
  if (tail.length) groups.splice(groups.length - 2, 2, ...tail);
  return groups.length === 8 ? groups : undefined;
}

/** `a.b.c.d` from the two low 16-bit groups of an IPv6 address. */
export const v4FromGroups = (hi: number, lo: number): string => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/** The IPv4 address of an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, any spelling), else undefined. */
export function mappedIPv4(address: string): string | undefined {
  const g = parseIPv6(address);
  return g && g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff ? v4FromGroups(g[6]!, g[7]!) : undefined;
}

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 4 | 6;
}

/** `10.0.0.0/8`, `::1/128` or a bare IP; IPv4-mapped IPv6 is folded to IPv4. */
export function parseCidr(v: unknown): Cidr | undefined {
  if (typeof v !== 'string') return undefined;
  const [addrRaw = '', prefixText, extra] = v.trim().split('/');
  if (extra !== undefined) return undefined;
  let address = addrRaw;
  let family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  let prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  const v4 = family === 6 ? mappedIPv4(address) : undefined;
  if (v4 !== undefined && prefix >= 96) {
    address = v4;
    family = 4;
    prefix -= 96;
  }
  return { address, prefix, family: family as 4 | 6 };
}

/** A membership test for a list of CIDRs (or single addresses), built once; answers cached per address. */
export function cidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const cidr = parseCidr(c);
    if (!cidr) throw new Error(`invalid CIDR ${JSON.stringify(c)}`);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family === 4 ? 'ipv4' : 'ipv6');
  }
  const cache = new Map<string, boolean>();
  return (ip) => {
    if (ip === '') return false;
    let hit = cache.get(ip);
    if (hit === undefined) {
      hit = list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
      if (cache.size > 10_000) cache.clear();
      cache.set(ip, hit);
    }
    return hit;
  };
}
