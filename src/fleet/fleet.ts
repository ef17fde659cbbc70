/**
 * What a fleet of instances shares besides rate limits and sticky tables: cache purges and live pool
 * changes. Each is applied locally first, then published; the other instances repeat it. Pool changes are
 * also recorded in Redis (one field per pool and upstream, the latest change wins), so an instance that
 * starts, or comes back after an outage, replays them and ends up with the same pools as the others.
 */
import type { Logger } from 'pino';
import type { HttpCache } from '../cache/http-cache.js';
import { originOf } from '../config/origin.js';
import type { UpstreamPool } from '../reverse/upstream-pool.js';
import type { FleetMessage, SharedState } from './shared-state.js';

/** A change made to a pool at run time (admin API), not in the config file. */
export interface PoolChange { op: 'add' | 'remove' | 'weight'; pool: string; url: string; weight?: number }

export interface FleetMember {
  readonly cache: HttpCache;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  readonly log: Logger;
  /** Records a change applied here, so a reload can say what it drops; returns the merged record. */
  noteRuntimeChange(change: PoolChange): PoolChange;
}

/** Messages kept while Redis is down, sent when it is back; beyond this the oldest are dropped. */
const MAX_PENDING = 1_000;

export class Fleet {
  readonly #changesKey: string;
  /** Purges and pool changes made here while Redis was down (a pool change with its record): the others learn them at resync. */
  #pending: { message: FleetMessage; record?: PoolChange }[] = [];

  constructor(readonly state: SharedState, private readonly member: FleetMember) {
    this.#changesKey = `${state.prefix}pool-changes`;
    member.cache.onPurge = (purge) => this.#send({ kind: 'purge', ...purge });
    state.on('purge', (m) => this.#purge(m));
    state.on('pool', (m) => this.apply(m as unknown as PoolChange, 'fleet'));
    state.onResync(() => this.#replay());
  }

  /** Records a change made through this instance's admin API and tells the others. */
  announce(change: PoolChange): void {
    const record = this.member.noteRuntimeChange(change);
    this.#send({ kind: 'pool', ...change }, record);
  }

  /** Publishes a message; a pool change's record (already noted here) is also written to Redis. */
  #send(m: FleetMessage, record?: PoolChange): void {
    if (!this.state.up) {
      if (this.#pending.push({ message: m, record }) > MAX_PENDING) this.#pending.shift();
      return;
    }
    if (record) {
      void this.state.run('pool_change', (c) => c.hSet(this.#changesKey, `${record.pool} ${originOf(record.url)}`, JSON.stringify(record)), 1_000);
    }
    this.state.publish(m);
  }

  /** Forgets the recorded changes (a reload made the config file the truth again). */
  async forgetChanges(): Promise<void> {
    await this.state.run('pool_change', (c) => c.del(this.#changesKey), 1_000);
  }

  /** Applies a change another instance made (or one replayed from Redis); idempotent. */
  apply(change: PoolChange, source: 'fleet' | 'resync'): void {
    const pool = this.member.pools.get(change.pool);
    if (!pool || typeof change.url !== 'string') return;
    let origin: string;
    try { origin = originOf(change.url); } catch { return; }
    const u = pool.find(origin);
    const fields = { pool: change.pool, upstream: origin, source };
    if (change.op === 'add' && !u?.draining) {
      const weight = Number.isInteger(change.weight) ? change.weight! : 1;
      if (u) { if (u.configuredWeight === weight) return; u.configuredWeight = weight; } else pool.add(change.url, weight);
      this.member.log.info({ ...fields, weight }, 'upstream added');
    } else if (change.op === 'weight' && u && Number.isInteger(change.weight) && u.configuredWeight !== change.weight) {
      u.configuredWeight = change.weight!;
      this.member.log.info({ ...fields, to: change.weight }, 'upstream weight changed');
    } else if (change.op === 'remove' && u && !u.draining) {
      this.member.log.info(fields, 'upstream draining');
      void pool.drain(origin).then(() => this.member.log.info(fields, 'upstream removed'));
    } else {
      return;
    }
    this.member.noteRuntimeChange(change);
  }

  #purge(m: FleetMessage): void {
    const cache = this.member.cache;
    if (typeof m.url === 'string') {
      const purged = cache.purgeUrl(m.url, true);
      this.member.log.info({ url: m.url, purged, source: 'fleet' }, 'cache purged');
    } else if (typeof m.prefix === 'string') {
      const purged = cache.purgePrefix(m.prefix, true);
      this.member.log.info({ prefix: m.prefix, purged, source: 'fleet' }, 'cache purged');
    }
  }

  async #replay(): Promise<void> {
    const pending = this.#pending;
    this.#pending = [];
    for (const { message, record } of pending) this.#send(message, record);
    const all = await this.state.run('pool_change', (c) => c.hGetAll(this.#changesKey), 2_000);
    for (const raw of Object.values(all ?? {})) {
      try { this.apply(JSON.parse(raw) as PoolChange, 'resync'); } catch { /* a record we cannot read is skipped */ }
    }
  }
}
