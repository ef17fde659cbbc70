/** A reverse-proxy listener: its pipeline, in one place, and the state a reload swaps. */
import type { Logger } from 'pino';
import type { PluginEntry, ReverseListener as ReverseListenerConfig } from '../config/types.js';
import { accessLogStage, errorResponderStage } from '../core/common-stages.js';
import { listenerInfo, type ListenerInfo } from '../core/context.js';
import { HttpListener } from '../core/http-listener.js';
import { loopStage } from '../core/via.js';
import { traceStage } from '../core/trace-stage.js';
import { simulate, type SimulationResult } from '../core/simulate.js';
import type { SimulationInput } from '../core/simulated-request.js';
import { dryProxyStage } from './dry-proxy-stage.js';
import type { TraceRecorder } from '../observability/trace-recorder.js';
import { rateLimitStage, type SharedBuckets } from '../core/limits-stage.js';
import { compose, type Pipeline, type Stage } from '../core/pipeline.js';
import { cacheStage } from '../cache/cache-stage.js';
import type { HttpCache } from '../cache/http-cache.js';
import { cidrMatcher } from '../core/cidr.js';
import type { Metrics } from '../observability/metrics.js';
import { SniContexts } from '../tls/sni-contexts.js';
import { traceContextStage } from '../observability/trace-context.js';
import type { SpanRecorder } from '../observability/trace-context.js';
import { AcmeManager } from '../tls/acme/acme-manager.js';
import type { Http01Responder } from '../tls/acme/http01.js';
import { watchCertFiles, type CertWatch } from '../tls/cert-watch.js';
import type { TicketKeys } from '../tls/ticket-keys.js';
import { acmeChallengeStage, clientCertStage, redirectHttpsStage } from './tls-stages.js';
import { proxyStage, type ProxyStageDeps } from './proxy-stage.js';
import { respondStage } from './respond-stage.js';
import { RouteTable, type CompiledRoute } from './route-table.js';
import { routeStage } from './route-stage.js';
import { requestTargetStage } from './request-target-stage.js';
import type { UpstreamPool } from './upstream-pool.js';
import { droppedRequestFields } from '../core/headers.js';

export interface ReverseDeps {
  log: Logger;
  metrics: Metrics;
  nodeId: string;
  /** The name added to Via and checked for loops (default nodeId). */
  viaName?: string;
  isTrusted: (ip: string) => boolean;
  pools: () => ReadonlyMap<string, UpstreamPool>;
  onResult?: ProxyStageDeps['onResult'];
  /** The shared HTTP cache, used by routes with `cache: true`. */
  cache?: HttpCache;
  /** The stage running a route's plugins (undefined: none). */
  pluginsFor?: (entries: readonly PluginEntry[]) => Stage | undefined;
  /** The OTLP span recorder, once started (tracing.otlp_endpoint); undefined: no export. */
  spanRecorder?: () => SpanRecorder | undefined;
  /** Fleet-wide rate-limit buckets (shared.redis); undefined: per process. */
  sharedBuckets?: SharedBuckets['limiter'];
  /** ACME HTTP-01 tokens, answered by plain listeners; shared by every listener of the gateway. */
  http01?: Http01Responder;
  /** Session-ticket keys for TLS listeners (shared across workers). */
  ticketKeys?: TicketKeys;
  /** Decision traces (core/trace-stage.ts); the stage is left out while no one can read a trace. */
  traces?: TraceRecorder;
}

/** Runs the matched route's own plugin stage, if it has one. */
function routePluginsStage(byRoute: ReadonlyMap<CompiledRoute, Stage>): Stage | undefined {
  if (byRoute.size === 0) return undefined;
  return {
    name: 'route-plugins',
    handle(ctx, next) {
      const stage = byRoute.get(ctx.route as CompiledRoute);
      return stage ? stage.handle(ctx, next) : next();
    },
  };
}

const hstsStage = (value: string): Stage => ({
  name: 'hsts',
  handle(ctx, next) { ctx.addResponseHeader('strict-transport-security', value); return next(); },
});

export class ReverseProxyListener {
  readonly listener: HttpListener;
  readonly name: string;
  readonly sni?: SniContexts;
  #config: ReverseListenerConfig;
  readonly #info: ListenerInfo;
  #routes: RouteTable;
  /** Upgrade protocols some route allows (lower-case). */
  #pipeline: Pipeline;
  #acme?: AcmeManager;
  #watch?: CertWatch;

  constructor(config: ReverseListenerConfig, index: number, private readonly deps: ReverseDeps) {
    this.name = `reverse[${index}]`;
    this.#config = config;
    this.#routes = new RouteTable(config.routes);
    if (config.tls) this.sni = new SniContexts(config.tls);
    const info: ListenerInfo = listenerInfo({ name: this.name, mode: 'reverse', nodeId: deps.nodeId, viaName: deps.viaName, log: deps.log, isTrusted: deps.isTrusted });
    this.#info = info;
    this.#pipeline = this.#build();
    this.listener = new HttpListener({
      listen: config.listen, limits: config.limits, info, pipeline: () => this.#pipeline,
      tls: this.sni?.serverOptions(),
      http2: config.http2 === false ? undefined : config.http2,
      acceptsUpgrade: (protocol) => this.#routes.upgrades.has(protocol),
    });
    if (this.sni) {
      this.sni.attach(this.listener.server as never);
      const keys = deps.ticketKeys;
      if (keys) {
        keys.attach(this.listener.server as never);
        this.sni.useTicketKeys(() => keys.current());
      }
    }
  }

  /** Listens, then starts ACME and the watch on certificate files. */
  async start(): Promise<void> {
    await this.listener.start();
    this.#startAcme();
    this.#startWatch();
  }

  async stop(drainMs: number): Promise<void> {
    this.#stopAcme();
    this.#stopWatch();
    await this.listener.stop(drainMs);
  }

  /** The ACME manager of this listener (undefined without `tls.acme`). */
  get acme(): AcmeManager | undefined { return this.#acme; }

  #startAcme(): void {
    const { sni, deps } = this;
    const acme = this.#config.tls?.acme;
    if (!sni || !acme || !deps.http01) return;
    this.#acme = new AcmeManager({
      config: acme, listener: this.name, log: deps.log, http01: deps.http01,
      onCertificate: (cert) => {
        const problems = sni.setAcmeCertificate(cert);
        if (problems.length) deps.log.error({ listener: this.name, problems }, 'acme: new certificate not usable; keeping the current one');
      },
    });
    this.#acme.start();
  }

  #stopAcme(): void { this.#acme?.stop(); this.#acme = undefined; }

  /** Certificate files are re-read when they change (editors and certbot replace them by rename). */
  #startWatch(): void {
    const sni = this.sni;
    if (!sni) return;
    this.#watch = watchCertFiles(sni.files(), () => {
      const problems = sni.reload();
      if (problems.length) this.deps.log.error({ listener: this.name, problems: problems.map((p) => `${p.key}: ${p.message}`) }, 'certificate files changed but do not load; keeping the current certificates');
      else this.deps.log.info({ listener: this.name, certificates: sni.describe() }, 'certificates reloaded');
    });
  }

  #stopWatch(): void { this.#watch?.close(); this.#watch = undefined; }

  get config(): ReverseListenerConfig { return this.#config; }
  get routes(): RouteTable { return this.#routes; }

  /**
   * The stage list; `dry` (the simulator) leaves out what counts or limits (access log and metrics, rate
   * limit) and ends with a stage that picks an upstream without sending anything.
   */
  #build(dry = false): Pipeline {
    const cfg = this.#config;
    // the pipeline keeps the table it was built with, so a request matches routes and finds their plugins in one version
    const routes = this.#routes;
    const plugins = new Map<CompiledRoute, Stage>();
    routes.routes.forEach((route) => {
      const stage = route.config.plugins.length ? this.deps.pluginsFor?.(route.config.plugins) : undefined;
      if (stage) plugins.set(route, stage);
    });
    const stages: (Stage | undefined)[] = [
      dry ? undefined : accessLogStage(this.deps.metrics),
      errorResponderStage,
      !dry && this.deps.traces?.active ? traceStage(this.deps.traces) : undefined,
      loopStage(this.#info.viaName),
      cfg.trace_context ? traceContextStage(this.deps.spanRecorder) : undefined,
      cfg.tls?.hsts ? hstsStage(cfg.tls.hsts) : undefined,
      this.sni?.clientCertMode === 'optional' ? clientCertStage : undefined,
      dry ? undefined : rateLimitStage(cfg.limits, this.deps.sharedBuckets && { limiter: this.deps.sharedBuckets, scope: this.name }),
      requestTargetStage({ mergeSlashes: cfg.paths.merge_slashes, escapedSlashes: cfg.paths.escaped_slashes }),
      !cfg.tls && this.deps.http01 ? acmeChallengeStage(this.deps.http01) : undefined,
      !cfg.tls && cfg.redirect_https ? redirectHttpsStage : undefined,
      routeStage(() => routes),
      routePluginsStage(plugins),
      routes.routes.some((r) => r.respond) ? respondStage : undefined,
      this.#cacheStage(cfg),
      dry ? dryProxyStage(this.deps.pools) : proxyStage({
        pools: this.deps.pools, metrics: this.deps.metrics, limits: cfg.limits,
        dropped: droppedRequestFields(cfg.strip_request_headers),
        proto: cfg.tls ? 'https' : 'http', onResult: this.deps.onResult,
      }),
    ];
    return compose(stages.filter((s): s is Stage => s !== undefined));
  }

  /** What this listener would do with a request, without sending, storing or counting anything. */
  simulate(input: SimulationInput): Promise<SimulationResult> {
    return simulate(this.#build(true), this.#info, input);
  }

  /** The cache stage, when any route of this listener has `cache: true`; it lets other routes through untouched. */
  #cacheStage(cfg: ReverseListenerConfig): Stage | undefined {
    const cache = this.deps.cache;
    if (!cache || !cfg.routes.some((r) => r.cache)) return undefined;
    const pools = this.deps.pools;
    return cacheStage({
      cache, mode: 'reverse', scheme: cfg.tls ? 'https' : 'http', purgeAllowed: cidrMatcher(cfg.purge_acl),
      waitLimit: (ctx) => pools().get(ctx.slots.pool ?? '')?.config.response_timeout ?? 30_000,
    });
  }

  /** Swaps routes and stages for a new config of the same address; connections stay open. */
  reload(config: ReverseListenerConfig): void {
    const acmeChanged = JSON.stringify(config.tls?.acme) !== JSON.stringify(this.#config.tls?.acme);
    this.#config = config;
    this.#routes = new RouteTable(config.routes);
    if (this.sni && config.tls) {
      const problems = this.sni.reload(config.tls);
      if (problems.length) this.deps.log.error({ listener: this.name, problems: problems.map((p) => `${p.key}: ${p.message}`) }, 'certificates do not load; keeping the current ones');
    }
    this.#pipeline = this.#build();
    if (!this.listener.server.listening) return;
    // the file list may have changed; an ACME manager is only replaced when its settings did
    this.#stopWatch();
    this.#startWatch();
    if (acmeChanged) { this.#stopAcme(); this.#startAcme(); }
  }
}
