/** A scripted loopback origin for cache tests: one handler per path, and what the origin saw per path. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startOrigin, startProxy, simpleReverse, type Origin, type TestProxy } from './loopback.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

export interface CacheRig {
  origin: Origin;
  proxy: TestProxy;
  /** Scripts a path; `n` counts the origin's requests for it from 1. */
  on(path: string, handler: Handler): void;
  /** Requests the origin received for a path (query included in the match when given). */
  seen(path: string): IncomingMessage[];
  url(path: string): string;
  close(): Promise<void>;
}

/** An origin and a reverse proxy with one cached route in front of it (`extra` merges into the config). */
export async function cacheRig(extra: { pool?: Record<string, unknown>; route?: Record<string, unknown>; top?: Record<string, unknown> } = {}): Promise<CacheRig> {
  const handlers = new Map<string, Handler>();
  const counts = new Map<string, number>();
  const origin = await startOrigin((req, res) => {
    const path = req.url!.split('?')[0]!;
    const n = (counts.get(path) ?? 0) + 1;
    counts.set(path, n);
    const h = handlers.get(path);
    req.resume();
    if (h) h(req, res, n); else { res.writeHead(404); res.end('no script'); }
  });
  const config = simpleReverse([origin.url], { retries: 0, ...extra.pool }, { cache: true, ...extra.route });
  const proxy = await startProxy({ ...config, ...extra.top });
  return {
    origin, proxy,
    on: (path, handler) => { handlers.set(path, handler); },
    seen: (path) => origin.seen.filter((r) => (path.includes('?') ? r.url === path : r.url!.split('?')[0] === path)),
    url: (path) => `${proxy.url()}${path}`,
    close: async () => { await proxy.close(); await origin.close(); },
  };
}

/** Cache-Status of a reply, as one string. */
export const status = (headers: Record<string, unknown>): string => String(headers['cache-status'] ?? '');
