/**
 * The composition root: builds pools, listeners and the admin API from a config, starts them, reloads
 * them in place (SIGHUP) and drains them on shutdown.
 */
import type { Logger } from 'pino';
import type { GatehouseConfig } from './config/types.js';
import { Metrics } from './observability/metrics.js';
import { cidrMatcher } from './core/cidr.js';
import { HttpCache, type HttpCacheOptions } from './cache/http-cache.js';
import { ReverseProxyListener } from './reverse/reverse-listener.js';
import { PoolHealth } from './reverse/pool-health.js';
import { TcpProxyListener } from './tcp/tcp-listener.js';
import { UpstreamPool } from './reverse/upstream-pool.js';
import type { Upstream } from './reverse/upstream.js';
import { AdminServer } from './admin/admin-server.js';
import { GatewayAdminTarget } from './admin/gateway-target.js';
import { PluginHost } from './plugins/plugin-host.js';
import { ForwardProxyListener } from './forward/forward-listener.js';
import type { LookupAll } from './forward/ssrf-guard.js';
import { defaultViaName } from './core/via.js';
import { SharedState } from './fleet/shared-state.js';
import { SharedRateLimiter } from './fleet/shared-rate-limit.js';
import { sharedStickyStore } from './fleet/shared-sticky.js';
import { Fleet, type PoolChange } from './fleet/fleet.js';
import { originOf } from './config/origin.js';
import { createOtlpRecorder } from './observability/otlp.js';
import type { SpanRecorder } from './observability/trace-context.js';
import { Http01Responder } from './tls/acme/http01.js';
import { TicketKeys } from './tls/ticket-keys.js';
import { resolve } from 'node:path';
import type { SimulationResult } from './core/simulate.js';
import type { SimulationInput } from './core/simulated-request.js';
import { tracedPlugins } from './observability/traced-plugins.js';
import { TraceRecorder, type TraceSettings } from './observability/trace-recorder.js';

const traceSettings = (config: GatehouseConfig): TraceSettings => ({ ...config.trace, log: config.log.trace });

/** Hooks for tests and embedders, never config keys. */
export interface GatewayOptions {
  /** Resolver of the forward listeners' SSRF guard (default dns.lookup); tests inject stubs, e.g. for DNS rebinding. */
  forwardLookup?: LookupAll;
  /** Secret the TLS session-ticket keys derive from; workers of one cluster share it (default: random). */
  ticketSecret?: Buffer;
}

/**
 * Reconciles running listeners with a new list of listener configs by address: a listener whose address
 * stays takes the new config in place (its connections stay open); new addresses start; gone ones drain.
 */
async function reloadByAddress<L extends { config: { listen: string } }, C extends { listen: string }>(
  running: readonly L[], configs: readonly C[],
  ops: { reload(l: L, cfg: C): void | Promise<void>; create(cfg: C, index: number): L; start(l: L): Promise<void>; stop(l: L): Promise<void> },
): Promise<L[]> {
  // Several listeners can share a listen string (`127.0.0.1:0`): they are kept in order.
  const byAddress = new Map<string, L[]>();
  for (const l of running) byAddress.set(l.config.listen, [...(byAddress.get(l.config.listen) ?? []), l]);
  const next: L[] = [];
  for (const [i, cfg] of configs.entries()) {
    const kept = byAddress.get(cfg.listen)?.shift();
    if (kept) { await ops.reload(kept, cfg); next.push(kept); continue; }
    const fresh = ops.create(cfg, i);
    await ops.start(fresh);
    next.push(fresh);
  }
  await Promise.all([...byAddress.values()].flat().map((l) => ops.stop(l)));
  return next;
}

function cacheOptions(config: GatehouseConfig): HttpCacheOptions {
  return { maxSize: config.cache.max_size, maxObjectSize: config.cache.max_object_size, staleGraceMs: config.cache.stale_grace };
}

export class Gateway {
  readonly metrics = new Metrics();
  readonly startedAt = Date.now();
  #config: GatehouseConfig;
  #pools = new Map<string, UpstreamPool>();
  #reverse: ReverseProxyListener[] = [];
  #tcp: TcpProxyListener[] = [];
  #forward: ForwardProxyListener[] = [];
  #health: PoolHealth;
  #admin?: AdminServer;
  #isTrusted: (ip: string) => boolean;
  /** The name in Via, fixed for this gateway's life (a reload keeps it). */
  readonly viaName: string;
  /** The one HTTP cache, shared by every listener (forward listeners: `cacheStage({ cache: gateway.cache, mode: 'forward', … })`). */
  readonly cache: HttpCache;
  /** The one plugin registry; start() loads every configured plugin (throws PluginConfigError). */
  readonly plugins: PluginHost;
  /** Set with `shared.redis`: what this instance shares with the others of its fleet. */
  readonly fleet?: Fleet;
  readonly #rateLimiter?: SharedRateLimiter;
  /** Pool changes made at run time (admin API, or other instances), by "pool origin"; a reload drops them. */
  readonly #runtimeChanges = new Map<string, PoolChange>();
  /** Set at start with `tracing.otlp_endpoint`. */
  #spans?: SpanRecorder;
  /** ACME HTTP-01 tokens, answered on every plain reverse listener. */
  readonly http01 = new Http01Responder();
  /** Session-ticket keys of every TLS listener (shared across workers through `ticketSecret`). */
  readonly ticketKeys: TicketKeys;
  /** Decision traces: who sees them, the last ones kept for GET /trace/ID. */
  readonly traces: TraceRecorder;

  constructor(config: GatehouseConfig, readonly log: Logger, readonly reloadFromSource?: () => Promise<string[]>, readonly options: GatewayOptions = {}) {
    this.#config = config;
    this.viaName = config.via_name || defaultViaName(config.node_id);
    this.#isTrusted = cidrMatcher(config.trusted_proxies);
    this.ticketKeys = new TicketKeys(options.ticketSecret);
    this.traces = new TraceRecorder(traceSettings(config));
    this.#health = new PoolHealth(log, this.metrics);
    this.cache = new HttpCache(cacheOptions(config), (result) => this.metrics.cacheLookup(result));
    this.metrics.watchCache(() => this.cache.store.size());
    this.metrics.watchCertificates(() => this.#reverse.flatMap((r) => (r.sni?.describe() ?? []).map((c) => ({
      listener: r.name, names: c.names.join(','), validTo: Date.parse(c.validTo),
    }))));
    this.plugins = new PluginHost(config, log, this.metrics.registry);
    if (config.shared.redis) {
      const state = new SharedState(config.shared, log, this.metrics.registry);
      this.#rateLimiter = new SharedRateLimiter(state);
      this.fleet = new Fleet(state, this);
    }
    this.#pools = this.#buildPools(config);
    this.#setAcmeDirectories(config);
    this.#reverse = config.reverse.map((l, i) => this.#newReverse(l, i));
    this.#tcp = config.tcp.map((l, i) => this.#newTcp(l, i));
    this.#forward = config.forward.map((l, i) => this.#newForward(l, i));
    if (config.admin.listen) this.#admin = new AdminServer(config.admin, new GatewayAdminTarget(this));
  }

  get config(): GatehouseConfig { return this.#config; }
  get pools(): ReadonlyMap<string, UpstreamPool> { return this.#pools; }
  get reverseListeners(): readonly ReverseProxyListener[] { return this.#reverse; }
  get adminAddress() { return this.#admin?.address; }

  #newReverse(cfg: GatehouseConfig['reverse'][number], index: number): ReverseProxyListener {
    return new ReverseProxyListener(cfg, index, {
      log: this.log, metrics: this.metrics, nodeId: this.#config.node_id, viaName: this.viaName,
      isTrusted: (ip) => this.#isTrusted(ip), pools: () => this.#pools, onResult: this.#health.onResult, cache: this.cache,
      pluginsFor: (entries) => tracedPlugins(this.plugins.stageFor(entries, () => this.#pools), entries), sharedBuckets: this.#rateLimiter, spanRecorder: () => this.#spans,
      http01: this.http01, ticketKeys: this.ticketKeys, traces: this.traces,
    });
  }

  /** Plain listeners also answer tokens another process placed in a shared ACME directory. */
  #setAcmeDirectories(config: GatehouseConfig): void {
    this.http01.setDirectories(config.reverse.flatMap((l) => (l.tls?.acme ? [resolve(l.tls.acme.dir)] : [])));
  }

  #newTcp(cfg: GatehouseConfig['tcp'][number], index: number): TcpProxyListener {
    return new TcpProxyListener(cfg, index, { log: this.log, pools: () => this.#pools, onResult: this.#health.onResult });
  }

  get tcpListeners(): readonly TcpProxyListener[] { return this.#tcp; }
  get forwardListeners(): readonly ForwardProxyListener[] { return this.#forward; }

  #newForward(cfg: GatehouseConfig['forward'][number], index: number): ForwardProxyListener {
    return new ForwardProxyListener(cfg, index, {
      log: this.log, metrics: this.metrics, nodeId: this.#config.node_id, viaName: this.viaName, isTrusted: (ip) => this.#isTrusted(ip),
      cache: this.cache, pluginsFor: (entries) => tracedPlugins(this.plugins.stageFor(entries), entries), lookup: this.options.forwardLookup,
      sharedBuckets: this.#rateLimiter, spanRecorder: () => this.#spans, traces: this.traces,
    });
  }

  /** New pools for a config, keeping existing Upstream objects (and their connections) by origin. */
  #buildPools(config: GatehouseConfig): Map<string, UpstreamPool> {
    const pools = new Map<string, UpstreamPool>();
    const state = this.fleet?.state;
    const stickyStores = state && ((pool: string) => sharedStickyStore(state, pool));
    for (const [name, pc] of Object.entries(config.pools)) {
      const old = this.#pools.get(name);
      const reuse = new Map<string, Upstream>(old?.upstreams.map((u) => [u.id, u]) ?? []);
      pools.set(name, new UpstreamPool(name, pc, reuse, config.node_id, stickyStores));
    }
    return pools;
  }

  async start(): Promise<void> {
    try {
      await this.plugins.load();
    } catch (e) {
      this.plugins.close();
      throw e;
    }
    // before the listeners, so the first requests already see the fleet's state (or after a short wait, local state)
    await this.fleet?.state.start();
    if (this.#config.tracing.otlp_endpoint) this.#spans = await createOtlpRecorder(this.#config.tracing, this.#config.node_id);
    const started: { stop(ms?: number): Promise<void> }[] = [];
    try {
      for (const r of this.#reverse) { await r.start(); started.push({ stop: (ms?: number) => r.stop(ms ?? 0) }); }
      for (const t of this.#tcp) { await t.start(); started.push(t); }
      for (const f of this.#forward) { await f.start(); started.push({ stop: (ms?: number) => f.stop(ms ?? 0) }); }
      if (this.#admin) { await this.#admin.start(); started.push(this.#admin); }
    } catch (e) {
      await Promise.all(started.map((s) => s.stop(0)));
      this.plugins.close();
      await this.fleet?.state.stop();
      throw e;
    }
    this.#health.reconcile(this.#pools);
    this.#warnInsecurePools();
    const admin = this.#admin?.address;
    const demo = this.#config.demo_origins.length ? this.#config.demo_origins : undefined;
    this.log.info({ listeners: this.describeListeners(), admin: admin && `${admin.host}:${admin.port}`, demo_origins: demo }, 'gatehouse started');
  }

  describeListeners(): { name: string; mode: string; address: string; tls: boolean }[] {
    return [
      ...this.#reverse.map((r) => {
        const a = r.listener.address;
        return { name: r.name, mode: 'reverse', address: `${a.host}:${a.port}`, tls: !!r.config.tls };
      }),
      ...this.#tcp.map((t) => ({ name: t.name, mode: 'tcp', address: `${t.address.host}:${t.address.port}`, tls: false })),
      ...this.#forward.map((f) => ({ name: f.name, mode: 'forward', address: `${f.listener.address.host}:${f.listener.address.port}`, tls: false })),
    ];
  }

  /**
   * Applies a new, already validated config without dropping connections: listeners on the same address
   * swap their routes; new addresses start; gone ones drain; upstreams of unchanged origins keep their connections.
   */
  async reload(config: GatehouseConfig): Promise<void> {
    // first, so a plugin that does not load refuses the reload before anything changed
    await this.plugins.prepareReload(config);
    if (JSON.stringify(config.shared) !== JSON.stringify(this.#config.shared)) {
      this.log.warn('shared.* changed: it takes effect on restart; this reload keeps the current link');
    }
    if (JSON.stringify(config.tracing) !== JSON.stringify(this.#config.tracing)) {
      this.log.warn('tracing.* changed: it takes effect on restart');
    }
    this.#dropRuntimeChanges();
    const oldPools = this.#pools;
    this.#pools = this.#buildPools(config);
    this.#config = config;
    this.cache.configure(cacheOptions(config));
    this.#isTrusted = cidrMatcher(config.trusted_proxies);
    this.#setAcmeDirectories(config);
    this.traces.configure(traceSettings(config));
    const drainMs = config.shutdown_timeout;
    this.#reverse = await reloadByAddress(this.#reverse, config.reverse, {
      reload: (l, cfg) => l.reload(cfg), create: (cfg, i) => this.#newReverse(cfg, i),
      start: (l) => l.start(), stop: (l) => l.stop(drainMs),
    });
    this.#tcp = await reloadByAddress(this.#tcp, config.tcp, {
      reload: (l, cfg) => l.reload(cfg), create: (cfg, i) => this.#newTcp(cfg, i), start: (l) => l.start(), stop: (l) => l.stop(drainMs),
    });
    this.#forward = await reloadByAddress(this.#forward, config.forward, {
      reload: (l, cfg) => l.reload(cfg), create: (cfg, i) => this.#newForward(cfg, i), start: (l) => l.start(), stop: (l) => l.stop(drainMs),
    });
    this.#health.reconcile(this.#pools);
    // Upstreams no longer in any pool: let their in-flight requests finish, then close.
    const live = new Set([...this.#pools.values()].flatMap((p) => p.upstreams));
    for (const pool of oldPools.values()) {
      for (const u of pool.upstreams) if (!live.has(u)) { u.draining = true; void u.idle().then(() => u.close()); }
    }
    this.plugins.commit(config);
    this.#warnInsecurePools();
    this.log.info({ listeners: this.describeListeners() }, 'config reloaded');
  }

  /** `insecure_skip_verify` is said out loud every time it takes effect. */
  #warnInsecurePools(): void {
    for (const p of this.#pools.values()) {
      if (p.config.tls?.insecure_skip_verify) this.log.warn({ pool: p.name }, `pools.${p.name}.tls.insecure_skip_verify: upstream certificates are NOT verified`);
    }
  }

  /** Stops accepting, lets in-flight requests finish up to shutdown_timeout, then closes everything. */
  async stop(): Promise<void> {
    const ms = this.#config.shutdown_timeout;
    this.log.info({ timeout_ms: ms }, 'draining');
    await Promise.all([...this.#reverse.map((r) => r.stop(ms)), ...this.#tcp.map((t) => t.stop(ms)), ...this.#forward.map((f) => f.stop(ms))]);
    await this.#admin?.stop();
    await this.#health.stop();
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
    this.plugins.close();
    await this.fleet?.state.stop();
    // sends the spans still batched
    await this.#spans?.shutdown().catch((e: Error) => this.log.warn({ err: e.message }, 'OTLP export failed at shutdown'));
    this.ticketKeys.close();
    this.log.info('stopped');
  }

  /** See FleetMember: remembers a run-time pool change; an `add` later re-weighted stays an `add`. */
  noteRuntimeChange(change: PoolChange): PoolChange {
    const key = `${change.pool} ${originOf(change.url)}`;
    const prev = this.#runtimeChanges.get(key);
    const merged = prev?.op === 'add' && change.op === 'weight' ? { ...prev, weight: change.weight } : { ...change };
    this.#runtimeChanges.set(key, merged);
    return merged;
  }

  /** A pool change made through this instance's admin API: recorded, and told to the fleet. */
  poolChanged(change: PoolChange): void {
    if (this.fleet) this.fleet.announce(change); else this.noteRuntimeChange(change);
  }

  /** A reload applies the file: run-time pool changes are dropped, and said so (as HAProxy's runtime API does). */
  #dropRuntimeChanges(): void {
    if (this.#runtimeChanges.size === 0) return;
    const dropped = [...this.#runtimeChanges.values()];
    this.#runtimeChanges.clear();
    this.log.warn({ dropped }, 'reload applies the config file: run-time pool changes dropped');
    void this.fleet?.forgetChanges();
  }

  /**
   * Readies the gateway for simulations without listening on anything (`gatehouse simulate`): plugins and
   * forward policies are loaded; health checks do not run, so every upstream counts as up. close() undoes it.
   */
  async prepareOffline(): Promise<void> {
    await this.plugins.load();
    for (const f of this.#forward) await f.prepare();
  }

  /** Releases what prepareOffline() loaded. */
  async closeOffline(): Promise<void> {
    for (const f of this.#forward) f.policy?.close();
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
    this.plugins.close();
  }

  /** POST /simulate: what a listener (by name; default the first HTTP one) would do with a request. */
  simulate(input: SimulationInput): Promise<SimulationResult> {
    const listeners = [...this.#reverse, ...this.#forward];
    const l = input.listener === undefined ? listeners[0] : listeners.find((x) => x.name === input.listener);
    if (!l) {
      const names = listeners.map((x) => x.name).join(', ') || 'none';
      throw new Error(`listener: no HTTP listener ${JSON.stringify(input.listener ?? '')} (there are: ${names})`);
    }
    return l.simulate(input);
  }

  /** The JSON of GET /status. */
  status(): Record<string, unknown> {
    return {
      node_id: this.#config.node_id,
      shared: this.fleet ? { redis: this.fleet.state.up ? 'up' : 'down', key_prefix: this.#config.shared.key_prefix } : undefined,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      cache: { ...this.cache.stats(), ...this.metrics.cacheHitRatio() },
      recent_errors: this.metrics.recentErrors,
      forward: this.#forward.map((f) => ({
        name: f.name, address: `${f.listener.address.host}:${f.listener.address.port}`, inflight: f.listener.inflight, tunnels: f.tunnels,
        auth: !!f.config.auth.users_file, acl_rules: f.policy?.acl.size ?? 0, blocked_domains: f.policy?.blocks.size ?? 0,
        intercept_tls: f.config.intercept_tls.enabled, parent: f.policy?.parent?.origin,
      })),
      tcp: this.#tcp.map((t) => ({ name: t.name, address: `${t.address.host}:${t.address.port}`, pool: t.config.pool, connections: t.connections })),
      listeners: this.#reverse.map((r) => ({
        ...this.describeListeners().find((d) => d.name === r.name),
        inflight: r.listener.inflight,
        routes: r.routes.routes.map((rt) => ({ name: rt.name, match: rt.config.match, pool: rt.pool, respond: rt.respond?.status, cache: rt.cache })),
        certificates: r.sni?.describe(),
        acme: r.acme && { domains: r.config.tls?.acme?.domains, directory: r.config.tls?.acme?.directory, last_error: r.acme.lastError ?? null },
      })),
      pools: Object.fromEntries([...this.#pools.values()].map((p) => [p.name, {
        balance: p.config.balance,
        sticky: p.config.sticky?.mode,
        health_checks: p.config.health ? (p.config.health.path ? `http ${p.config.health.path}` : 'tcp connect') : 'off',
        upstreams: p.upstreams.map((u) => u.describe()),
      }])),
      plugins: this.plugins.status(),
    };
  }
}
