/**
 * The start message in `log.format: pretty`: every listener, the admin API and the demo origins, and a
 * first command to try against each, so a new user sees where to point curl.
 */
interface ListenerInfo { name: string; mode: string; address: string; tls: boolean }

/** An address a client on this machine can connect to (a wildcard listen address is not one). */
function reachable(address: string): string {
  return address.replace(/^(0\.0\.0\.0|\[?::\]?)(?=:\d+$)/, (m) => (m.includes(':') ? '[::1]' : '127.0.0.1'));
}

export function startBanner(entry: Record<string, unknown>): string {
  const listeners = (entry.listeners as ListenerInfo[] | undefined) ?? [];
  const admin = entry.admin as string | undefined;
  const demo = (entry.demo_origins as string[] | undefined) ?? [];
  const lines = ['gatehouse started'];
  const tries: string[] = [];
  for (const l of listeners) {
    const at = reachable(l.address);
    if (l.mode === 'reverse') {
      const url = `${l.tls ? 'https' : 'http'}://${at}/`;
      lines.push(`  reverse proxy  ${url}  (${l.name})`);
      if (!tries.some((t) => t.startsWith('curl -s http'))) tries.push(`curl -s ${l.tls ? '-k ' : ''}${url}`);
    } else if (l.mode === 'forward') {
      lines.push(`  forward proxy  http://${at}  (${l.name})`);
      const destination = demo[0] ? `http://${reachable(demo[0])}/` : 'http://example.com/';
      if (!tries.some((t) => t.includes(' -x '))) tries.push(`curl -s -x http://${at} ${destination}`);
    } else {
      lines.push(`  ${l.mode} proxy      ${at}  (${l.name})`);
    }
  }
  if (admin) {
    lines.push(`  admin API      http://${reachable(admin)}/status  /metrics  /healthz`);
    tries.push(`curl -s http://${reachable(admin)}/status`);
  }
  if (demo.length) lines.push(`  demo origins   ${demo.map((d) => `http://${reachable(d)}`).join('  ')}`);
  if (tries.length) lines.push('  try first:', ...tries.map((t) => `    ${t}`));
  return lines.join('\n');
}
