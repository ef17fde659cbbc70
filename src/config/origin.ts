/**
 * `scheme://host:port` of an upstream URL: its id in a pool. WHATWG `URL.origin` is the string
 * "null" for non-special schemes such as `tcp:`, which would make every TCP upstream the same.
 * In config/ because the loader checks upstream lists for duplicates by it, below everything that keys upstreams by it.
 */
export function originOf(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  return u.origin !== 'null' ? u.origin : `${u.protocol}//${u.host}`;
}
