/** A reverse-proxy listener: its pipeline, in one place, and the state a reload swaps. */
import type { Logger } from 'pino';
import type { PluginEntry, ReverseListener as ReverseListenerConfig } from '../config/types.js';
import { accessLogStage, errorResponderStage } from '../core/common-stages.js';
import { listenerInfo, type ListenerInfo } from '../core/context.js';
import { HttpListener } from '../core/http-listener.js';
import { loopStage } from '../core/via.js';
import { rateLimitStage, type SharedBuckets } from '../core/limits-stage.js';
import { compose, type Pipeline, type Stage } from '../core/pipeline.js';
import { cacheStage } from '../cache/cache-stage.js';
import type { HttpCache } from '../cache/http-cache.js';
import { cidrMatcher } from '../core/cidr-matcher.js';
import type { Metrics } from '../observability/metrics.js';
import { SniContexts } from '../tls/sni-contexts.js';
import { traceContextStage } from '../observability/trace-context.js';
import type { SpanRecorder } from '../observability/otlp.js';
import { proxyStage, type ProxyStageDeps } from './proxy-stage.js';
import { respondStage } from './respond-stage.js';
import { RouteTable, type CompiledRoute } from './route-table.js';
import { routeStage } from './route-stage.js';
import { requestTargetStage } from './request-target-stage.js';
import type { UpstreamPool } from './upstream-pool.js';

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
  /** Stages other features put around routing (plugins before, cache after); built per route table. */
  extraStages?: { beforeRoute?: Stage[]; afterRoute?: Stage[] };
  /** The stage running a route's plugins (undefined: none). */
  pluginsFor?: (entries: readonly PluginEntry[]) => Stage | undefined;
  /** The OTLP span recorder, once started (tracing.otlp_endpoint); undefined: no export. */
  spanRecorder?: () => SpanRecorder | undefined;
  /** Fleet-wide rate-limit buckets (shared.redis); undefined: per process. */
  sharedBuckets?: SharedBuckets['limiter'];
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

const upgradesOf = (config: ReverseListenerConfig): Set<string> =>
  new Set(config.routes.flatMap((r) => r.upgrades.map((u) => u.toLowerCase())));

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
  #upgrades: Set<string>;
  #pipeline: Pipeline;

  constructor(config: ReverseListenerConfig, index: number, private readonly deps: ReverseDeps) {
    this.name = `reverse[${index}]`;
    this.#config = config;
    this.#routes = new RouteTable(config.routes);
    this.#upgrades = upgradesOf(config);
    if (config.tls) this.sni = new SniContexts(config.tls);
    const info: ListenerInfo = listenerInfo({ name: this.name, mode: 'reverse', nodeId: deps.nodeId, viaName: deps.viaName, log: deps.log, isTrusted: deps.isTrusted });
    this.#info = info;
    this.#pipeline = this.#build();
    this.listener = new HttpListener({
      listen: config.listen, limits: config.limits, info, pipeline: () => this.#pipeline,
      tls: this.sni?.serverOptions(),
      acceptsUpgrade: (protocol) => this.#upgrades.has(protocol),
    });
    if (this.sni) this.sni.attach(this.listener.server as never);
  }

  get config(): ReverseListenerConfig { return this.#config; }
  get routes(): RouteTable { return this.#routes; }

  #build(): Pipeline {
    const cfg = this.#config;
    // the pipeline keeps the table it was built with, so a request matches routes and finds their plugins in one version
    const routes = this.#routes;
    const plugins = new Map<CompiledRoute, Stage>();
    routes.routes.forEach((route) => {
      const stage = route.config.plugins.length ? this.deps.pluginsFor?.(route.config.plugins) : undefined;
      if (stage) plugins.set(route, stage);
    });
    const stages: (Stage | undefined)[] = [
      accessLogStage(this.deps.metrics),
      errorResponderStage,
      loopStage(this.#info.viaName),
      cfg.trace_context ? traceContextStage(this.deps.spanRecorder) : undefined,
      cfg.tls?.hsts ? hstsStage(cfg.tls.hsts) : undefined,
      rateLimitStage(cfg.limits, this.deps.sharedBuckets && { limiter: this.deps.sharedBuckets, scope: this.name }),
      requestTargetStage({ mergeSlashes: cfg.paths.merge_slashes, escapedSlashes: cfg.paths.escaped_slashes }),
      ...(this.deps.extraStages?.beforeRoute ?? []),
      routeStage(() => routes),
      routePluginsStage(plugins),
      routes.routes.some((r) => r.respond) ? respondStage : undefined,
      ...(this.deps.extraStages?.afterRoute ?? []),
      this.#cacheStage(cfg),
      proxyStage({
        pools: this.deps.pools, metrics: this.deps.metrics, limits: cfg.limits,
        strip: new Set(cfg.strip_request_headers.map((h) => h.toLowerCase())),
        proto: cfg.tls ? 'https' : 'http', onResult: this.deps.onResult,
      }),
    ];
    return compose(stages.filter((s): s is Stage => s !== undefined));
  }

  /** The cache stage, when any route of this listener has `cache: true`; it lets other routes through untouched. */
  #cacheStage(cfg: ReverseListenerConfig): Stage | undefined {
    const cache = this.deps.cache;
    if (!cache || !cfg.routes.some((r) => r.cache)) return undefined;
    const pools = this.deps.pools;
    return cacheStage({
      cache, mode: 'reverse', scheme: cfg.tls ? 'https' : 'http', purgeAllowed: cidrMatcher(cfg.purge_acl),
      waitLimit: (ctx) => pools().get(ctx.pool ?? '')?.config.response_timeout ?? 30_000,
    });
  }

  /** Swaps routes and stages for a new config of the same address; connections stay open. */
  reload(config: ReverseListenerConfig): void {
    this.#config = config;
    this.#routes = new RouteTable(config.routes);
    this.#upgrades = upgradesOf(config);
    if (this.sni && config.tls) this.sni.reload(config.tls);
    this.#pipeline = this.#build();
  }
}
