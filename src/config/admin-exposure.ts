/**
 * The admin API without a token must not be reachable from the network: the loader refuses such a config
 * (config/load.ts), and the admin API's own guard (admin/admin-guard.ts) uses the same idea of loopback.
 */
import { isIP } from 'node:net';
import { parseListen } from './shape.js';

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.', '::1']);

/** Whether a host (name or IP, no port) is a loopback one. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return LOOPBACK_NAMES.has(h) || h.endsWith('.localhost') || (isIP(h) === 4 && h.startsWith('127.'));
}

/** The config problem of an admin API reachable from the network without a token, or undefined. */
export function adminExposureProblem(listen: string, token: string): string | undefined {
  if (!listen || token) return undefined;
  const { host } = parseListen(listen);
  if (isLoopbackHost(host)) return undefined;
  return `admin.token: required when admin.listen (${listen}) is not a loopback address; set a token or listen on 127.0.0.1`;
}
