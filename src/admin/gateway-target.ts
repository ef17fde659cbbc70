/** The admin API acting on one local Gateway: validates each call's input and applies it. */
import type { Logger } from 'pino';
import type { HttpCache } from '../cache/http-cache.js';
import type { GatehouseConfig } from '../config/types.js';
import { originOf } from '../config/origin.js';
import type { SimulationResult } from '../core/simulate.js';
import type { Metrics } from '../observability/metrics.js';
import type { TraceRecorder } from '../observability/trace-recorder.js';
import type { UpstreamPool } from '../reverse/upstream-pool.js';
import type { PoolChange } from '../fleet/fleet.js';
import type { AdminReply, AdminTarget } from './admin-target.js';
import { simulationInput, type SimulationInput } from '../core/simulated-request.js';

/**
 * What the admin API uses of the gateway. Gateway (gateway.ts) has all of it and builds this target, so
 * the dependency points one way: gateway.ts → admin/, never back.
 */
export interface AdministeredGateway {
  readonly log: Logger;
  readonly config: Pick<GatehouseConfig, 'trace'>;
  readonly metrics: Pick<Metrics, 'registry'>;
  readonly cache: Pick<HttpCache, 'purgeUrl' | 'purgePrefix'>;
  readonly traces: Pick<TraceRecorder, 'find'>;
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  /** Reads and applies the config source again (SIGHUP's path); undefined: reload is not available. */
  readonly reloadFromSource?: () => Promise<string[]>;
  status(): Record<string, unknown>;
  simulate(input: SimulationInput): Promise<SimulationResult>;
  /** A pool change made through the admin API: recorded, and told to the fleet. */
  poolChanged(change: PoolChange): void;
}

export class GatewayAdminTarget implements AdminTarget {
  readonly #gateway: AdministeredGateway;

  constructor(gateway: AdministeredGateway) { this.#gateway = gateway; }

  async status(): Promise<unknown> { return this.#gateway.status(); }

  async simulate(body: unknown): Promise<AdminReply> {
    let input;
    try { input = simulationInput(body); } catch (e) { return [400, { error: (e as Error).message }]; }
    try { return [200, await this.#gateway.simulate(input)]; } catch (e) { return [400, { error: (e as Error).message }]; }
  }

  async trace(id: string): Promise<AdminReply> {
    const found = this.#gateway.traces.find(id);
    if (found) return [200, found];
    const why = this.#gateway.config.trace.keep === 0 ? ' (trace.keep is 0: no trace is kept)' : ` (only the last ${this.#gateway.config.trace.keep} are kept)`;
    return [404, { error: `no trace for request ${id}${why}` }];
  }

  async metrics(): Promise<{ contentType: string; text: string }> {
    const registry = this.#gateway.metrics.registry;
    return { contentType: registry.contentType, text: await registry.metrics() };
  }

  async reload(): Promise<AdminReply> {
    if (!this.#gateway.reloadFromSource) return [501, { error: 'reload is not available' }];
    const problems = await this.#gateway.reloadFromSource();
    return problems.length ? [422, { reloaded: false, problems }] : [200, { reloaded: true }];
  }

  async addUpstream(name: string, body: unknown): Promise<AdminReply> {
    const pool = this.#gateway.pools.get(name);
    if (!pool) return [404, { error: `no pool "${name}"` }];
    const { url: target, weight = 1 } = (body ?? {}) as { url?: unknown; weight?: unknown };
    if (typeof target !== 'string' || !/^(https?|tcp):\/\/[^/]/.test(target)) return [400, { error: 'url: must be an http://, https:// or tcp:// URL' }];
    if (!Number.isInteger(weight) || (weight as number) < 1) return [400, { error: 'weight: must be an integer >= 1' }];
    try {
      const u = pool.add(target, weight as number);
      this.#gateway.log.info({ pool: name, upstream: u.id, weight }, 'upstream added');
      this.#gateway.poolChanged({ op: 'add', pool: name, url: target, weight: weight as number });
      return [201, { pool: name, url: u.id, weight }];
    } catch (e) {
      return [409, { error: (e as Error).message }];
    }
  }

  /** Changes the weight in place (until the next reload). */
  async patchUpstream(name: string, target: string | null, body: unknown): Promise<AdminReply> {
    const pool = this.#gateway.pools.get(name);
    if (!pool) return [404, { error: `no pool "${name}"` }];
    if (!target) return [400, { error: 'url: query parameter is required' }];
    let origin: string;
    try { origin = originOf(target); } catch { return [400, { error: 'url: not a URL' }]; }
    const { weight } = (body ?? {}) as { weight?: unknown };
    if (!Number.isInteger(weight) || (weight as number) < 1 || (weight as number) > 1000) return [400, { error: 'weight: must be an integer 1-1000' }];
    const u = pool.find(origin);
    if (!u) return [404, { error: `no upstream ${origin} in pool "${name}"` }];
    const from = u.configuredWeight;
    u.configuredWeight = weight as number;
    this.#gateway.log.info({ pool: name, upstream: origin, from, to: weight }, 'upstream weight changed');
    this.#gateway.poolChanged({ op: 'weight', pool: name, url: origin, weight: weight as number });
    return [200, { pool: name, url: origin, weight }];
  }

  /** {url}: every variant of that absolute URL; {prefix}: absolute, or a path on any host. */
  async purge(body: unknown): Promise<AdminReply> {
    const { url, prefix } = (body ?? {}) as { url?: unknown; prefix?: unknown };
    if ((url === undefined) === (prefix === undefined)) return [400, { error: 'body: give exactly one of url or prefix' }];
    if (url !== undefined) {
      if (typeof url !== 'string' || !/^https?:\/\/[^/]/i.test(url)) return [400, { error: 'url: must be an absolute http:// or https:// URL' }];
      const purged = this.#gateway.cache.purgeUrl(url);
      this.#gateway.log.info({ url, purged }, 'cache purged');
      return [200, { purged }];
    }
    if (typeof prefix !== 'string' || !/^(https?:\/\/[^/]|\/)/i.test(prefix)) return [400, { error: 'prefix: must be an absolute URL or start with /' }];
    const purged = this.#gateway.cache.purgePrefix(prefix);
    this.#gateway.log.info({ prefix, purged }, 'cache purged');
    return [200, { purged }];
  }

  async drainUpstream(name: string, target: string | null): Promise<AdminReply> {
    const pool = this.#gateway.pools.get(name);
    if (!pool) return [404, { error: `no pool "${name}"` }];
    if (!target) return [400, { error: 'url: query parameter is required' }];
    let origin: string;
    try { origin = originOf(target); } catch { return [400, { error: 'url: not a URL' }]; }
    if (!pool.find(origin)) return [404, { error: `no upstream ${origin} in pool "${name}"` }];
    this.#gateway.log.info({ pool: name, upstream: origin }, 'upstream draining');
    this.#gateway.poolChanged({ op: 'remove', pool: name, url: origin });
    const removed = await pool.drain(origin);
    if (!removed) return [404, { error: `no upstream ${origin} in pool "${name}"` }];
    this.#gateway.log.info({ pool: name, upstream: origin }, 'upstream removed');
    return [200, { pool: name, removed: origin }];
  }
}
