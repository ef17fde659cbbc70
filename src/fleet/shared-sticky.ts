/** The fleet's `ip` sticky tables in Redis: one key per pool and client, expiring like the local entry. */
import type { StickyStore } from '../reverse/sticky/ip-sticky.js';
import type { SharedState } from './shared-state.js';

export function sharedStickyStore(shared: SharedState, pool: string): StickyStore {
  const key = (ip: string) => `${shared.prefix}sticky:${pool}:${ip}`;
  return {
    async lookup(ip) {
      return (await shared.run('sticky_lookup', (c) => c.get(key(ip)))) ?? undefined;
    },
    remember(ip, upstreamId, ttlMs) {
      void shared.run('sticky_write', (c) => c.set(key(ip), upstreamId, { PX: ttlMs }), 1_000);
    },
  };
}
