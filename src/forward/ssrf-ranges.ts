/**
 * The address ranges a forward proxy refuses to dial by default, and the one function that
 * classifies an address against them. IPv6 forms that carry an IPv4 address (IPv4-mapped
 * `::ffff:0:0/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by the embedded IPv4,
 * so `[::ffff:127.0.0.1]` is loopback while `[::ffff:8.8.8.8]` is public.
 */

import { BlockList, isIP } from 'node:net';
import { parseIPv6, v4FromGroups } from '../core/cidr.js';

interface Range { readonly net: string; readonly prefix: number; readonly label: string }

// Most specific first: the first range that holds an address names the reason.
const V4: readonly Range[] = [
  { net: '0.0.0.0', prefix: 8, label: 'unspecified (0.0.0.0/8)' },
  { net: '10.0.0.0', prefix: 8, label: 'private (RFC 1918)' },
  { net: '100.64.0.0', prefix: 10, label: 'CGNAT (RFC 6598)' },
  { net: '127.0.0.0', prefix: 8, label: 'loopback' },
  { net: '169.254.0.0', prefix: 16, label: 'link-local (incl. cloud metadata)' },
  { net: '172.16.0.0', prefix: 12, label: 'private (RFC 1918)' },
  { net: '192.0.0.0', prefix: 24, label: 'reserved (IETF protocol assignments)' },
  { net: '192.0.2.0', prefix: 24, label: 'documentation (TEST-NET-1)' },
  { net: '192.88.99.0', prefix: 24, label: 'reserved (6to4 relay anycast)' },
  { net: '192.168.0.0', prefix: 16, label: 'private (RFC 1918)' },
  { net: '198.18.0.0', prefix: 15, label: 'benchmarking (RFC 2544)' },
  { net: '198.51.100.0', prefix: 24, label: 'documentation (TEST-NET-2)' },
  { net: '203.0.113.0', prefix: 24, label: 'documentation (TEST-NET-3)' },
  { net: '224.0.0.0', prefix: 4, label: 'multicast' },
  { net: '255.255.255.255', prefix: 32, label: 'broadcast' },
  { net: '240.0.0.0', prefix: 4, label: 'reserved (240.0.0.0/4)' },
];

const V6: readonly Range[] = [
  { net: '::', prefix: 128, label: 'unspecified (::)' },
  { net: '::1', prefix: 128, label: 'loopback' },
  { net: '::', prefix: 96, label: 'IPv4-compatible IPv6 (deprecated)' },
  { net: '64:ff9b:1::', prefix: 48, label: 'NAT64 local-use' },
  { net: '100::', prefix: 64, label: 'discard-only' },
  { net: '2001::', prefix: 32, label: 'Teredo' },
  { net: '2001:2::', prefix: 48, label: 'benchmarking' },
  { net: '2001:db8::', prefix: 32, label: 'documentation' },
  { net: '3fff::', prefix: 20, label: 'documentation' },
  { net: 'fc00::', prefix: 7, label: 'unique-local' },
  { net: 'fe80::', prefix: 10, label: 'link-local' },
  { net: 'fec0::', prefix: 10, label: 'site-local (deprecated)' },
  { net: 'ff00::', prefix: 8, label: 'multicast' },
];

function listOf(ranges: readonly Range[], type: 'ipv4' | 'ipv6'): { all: BlockList; each: { list: BlockList; label: string }[] } {
  const all = new BlockList();
  const each = ranges.map((r) => {
    const list = new BlockList();
    list.addSubnet(r.net, r.prefix, type);
    all.addSubnet(r.net, r.prefix, type);
    return { list, label: r.label };
  });
  return { all, each };
}

const V4_LISTS = listOf(V4, 'ipv4');
const V6_LISTS = listOf(V6, 'ipv6');

/**
 * The IPv4 address an IPv6 address stands for, when it is IPv4-mapped (`::ffff:a.b.c.d`),
 * NAT64 well-known (`64:ff9b::a.b.c.d`) or 6to4 (`2002:AABB:CCDD::/48`); else undefined.
 */
export function embeddedIPv4(address: string): string | undefined {
  const g = parseIPv6(address);
  if (!g) return undefined;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return v4FromGroups(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4FromGroups(g[6]!, g[7]!);
  if (g[0] === 0x2002) return v4FromGroups(g[1]!, g[2]!);
  return undefined;
}

/** Why `address` (an IP literal, no brackets) must not be dialled, or undefined when it is public. */
export function classifyAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) {
    if (!V4_LISTS.all.check(address, 'ipv4')) return undefined;
    return V4_LISTS.each.find((e) => e.list.check(address, 'ipv4'))?.label;
  }
  if (family !== 6) return 'not an IP address';
  const v4 = embeddedIPv4(address);
  if (v4 !== undefined) {
    const inner = classifyAddress(v4);
    return inner === undefined ? undefined : `${inner} (embedded in ${address})`;
  }
  if (!V6_LISTS.all.check(address, 'ipv6')) return undefined;
  return V6_LISTS.each.find((e) => e.list.check(address, 'ipv6'))?.label;
}
