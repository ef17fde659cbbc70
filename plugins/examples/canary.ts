// Canary routing, written in TypeScript: a request goes to the canary pool when it carries the
// opt-in cookie, or when a stable hash of the client (cookie id, else IP) falls under `percent`.
// options: { pool: "canary", percent: 10, cookie: "canary", id_cookie: "sid" }
import type { PluginContext, RequestView, RouteDecision } from '../gatehouse-plugin.js';

interface CanaryOptions {
  pool?: string;
  percent?: number;
  cookie?: string;
  id_cookie?: string;
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

// FNV-1a: stable across restarts and proxies, so a client keeps its bucket.
function bucket(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 100;
}

export function route(req: RequestView, ctx: PluginContext<CanaryOptions>): RouteDecision {
  const { pool = 'canary', percent = 10, cookie: optIn = 'canary', id_cookie: idCookie = 'sid' } = ctx.config;
  const cookies = req.headers.cookie;
  const flag = cookie(cookies, optIn);
  if (flag === '1') return { pool };
  if (flag === '0') return undefined;
  const id = cookie(cookies, idCookie) ?? req.client.ip;
  return bucket(id) < percent ? { pool } : undefined;
}
