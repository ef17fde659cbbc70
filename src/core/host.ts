/** Lower-case host without port and trailing dot (IPv6 keeps its brackets); for route matching and plugin views. */
export function normaliseHost(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  let host = hostHeader;
  if (host.charCodeAt(0) === 91 /* [ */) host = host.slice(0, host.indexOf(']') + 1);
  else {
    const colon = host.indexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  host = host.toLowerCase();
  return host.endsWith('.') ? host.slice(0, -1) : host;
}
