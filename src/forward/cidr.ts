/** CIDR parsing shared by the ACL, the SSRF exemptions and the PAC builder. */

import { isIP } from 'node:net';
import { mappedIPv4 } from './ssrf-ranges.js';

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
