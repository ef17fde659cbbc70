/** A membership test for a list of CIDRs (or single addresses), built once; answers cached per address. */
import { BlockList, isIPv6 } from 'node:net';

export function cidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const type = isIPv6(addr!) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
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
