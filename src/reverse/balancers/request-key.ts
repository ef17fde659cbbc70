import type { IncomingHttpHeaders } from 'node:http';
import type { PickContext } from './balancer.js';

/** What a hashing balancer hashes: `ip | header:NAME | cookie:NAME | path` (config `hash_key`). */
export type HashKey =
  | { readonly kind: 'ip' }
  | { readonly kind: 'path' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Parses a `hash_key` config value. Throws an Error with a user-facing message when invalid. */
export function parseHashKey(spec: string): HashKey {
  const s = spec.trim();
  if (s === 'ip' || s === 'path') return { kind: s };
  const colon = s.indexOf(':');
  const kind = colon > 0 ? s.slice(0, colon) : '';
  const name = s.slice(colon + 1).trim();
  if ((kind === 'header' || kind === 'cookie') && TOKEN.test(name)) {
    // header names are matched lower-case, as node delivers them
    return { kind, name: kind === 'header' ? name.toLowerCase() : name };
  }
  throw new Error(`must be ip, path, header:NAME or cookie:NAME, got ${JSON.stringify(spec)}`);
}

/** The string to hash for this request, or undefined when the request lacks it. */
export function requestKey(key: HashKey, ctx: PickContext): string | undefined {
  switch (key.kind) {
    case 'ip':
      return ctx.clientIp || undefined;
    case 'path': {
      const p = ctx.path;
      if (!p) return undefined;
      const q = p.indexOf('?');
      return q < 0 ? p : p.slice(0, q);
    }
    case 'header': {
      const v = ctx.headers?.[key.name];
      if (v === undefined) return undefined;
      return Array.isArray(v) ? v.join(',') : v;
    }
    case 'cookie':
      return readCookie(ctx.headers, key.name);
  }
}

/** Value of cookie `name` in the request's Cookie header(s), unquoted; undefined when absent or empty. */
export function readCookie(headers: IncomingHttpHeaders | undefined, name: string): string | undefined {
  const raw = headers?.cookie as string | string[] | undefined;
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) {
    for (const part of raw) {
      const v = findCookie(part, name);
      if (v !== undefined) return v;
    }
    return undefined;
  }
  return findCookie(raw, name);
}

function findCookie(header: string, name: string): string | undefined {
  // scan without splitting: this runs on every request of a sticky pool
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq > 0 && eq < end && header.slice(start, eq).trim() === name) {
      let v = header.slice(eq + 1, end).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      return v === '' ? undefined : v;
    }
    start = end + 1;
  }
  return undefined;
}
