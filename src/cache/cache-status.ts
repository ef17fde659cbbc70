/** The Cache-Status response field (RFC 9211), serialised as a Structured Fields list member. */

export type FwdReason = 'bypass' | 'method' | 'uri-miss' | 'vary-miss' | 'miss' | 'request' | 'stale' | 'partial';

export interface CacheStatusInfo {
  /** Answered from the cache (possibly a generated 304). Exclusive with `fwd`. */
  readonly hit?: boolean;
  /** Why the request went forward. */
  readonly fwd?: FwdReason;
  /** Status the next hop answered with, when it differs from the one sent (e.g. 304 on revalidation). */
  readonly fwdStatus?: number;
  /** Remaining freshness in seconds; negative when stale. */
  readonly ttl?: number;
  /** The forwarded response was stored. */
  readonly stored?: boolean;
  /** The request was collapsed with another one (true: reused its response; false: had to go forward). */
  readonly collapsed?: boolean;
  readonly key?: string;
  /** Implementation-specific detail, e.g. `no-store`, `stale-while-revalidate`, `stale-if-error`. */
  readonly detail?: string;
}

const SF_TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/;

function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, '?')}"`;
}

function tokenOrString(s: string): string {
  return SF_TOKEN.test(s) ? s : sfString(s);
}

/** E.g. `gatehouse; hit; ttl=376`, `gatehouse; fwd=uri-miss; stored`, `gatehouse; fwd=stale; fwd-status=304`. */
export function cacheStatus(info: CacheStatusInfo, cacheName = 'gatehouse'): string {
  let out = tokenOrString(cacheName);
  if (info.hit) out += '; hit';
  else if (info.fwd) {
    out += `; fwd=${info.fwd}`;
    if (info.fwdStatus !== undefined) out += `; fwd-status=${Math.trunc(info.fwdStatus)}`;
  }
  if (info.ttl !== undefined && Number.isFinite(info.ttl)) out += `; ttl=${Math.floor(info.ttl)}`;
  if (info.stored && !info.hit) out += '; stored';
  if (info.collapsed !== undefined) out += info.collapsed ? '; collapsed' : '; collapsed=?0';
  if (info.key !== undefined) out += `; key=${sfString(info.key)}`;
  if (info.detail !== undefined) out += `; detail=${tokenOrString(info.detail)}`;
  return out;
}
