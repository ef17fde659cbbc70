/** A reverse-proxy listener: its pipeline, in one place, and the state a reload swaps. */
import type { Logger } from 'pino';
import type { ReverseListener as ReverseListenerConfig } from '../config/types.js';
import { accessLogStage, errorResponderStage } from '../core/common-stages.js';
import type { ListenerInfo } from '../core/context.js';
import { HttpListener } from '../core/http-listener.js';
import { rateLimitStage } from '../core/limits-stage.js';
import { compose, type Pipeline, type Stage } from '../core/pipeline.js';
import type { Metrics } from '../observability/metrics.js';
import { SniContexts } from '../tls/sni-contexts.js';
import { proxyStage, type ProxyStageDeps } from './proxy-stage.js';
import { RouteTable } from './route-table.js';
import { routeStage } from './route-stage.js';
import type { UpstreamPool } from './upstream-pool.js';

export interface ReverseDeps {
  log: Logger;
  metrics: Metrics;
  nodeId: string;
  isTrusted: (ip: string) => boolean;
  pools: () => ReadonlyMap<string, UpstreamPool>;
  onResult?: ProxyStageDeps['onResult'];
  /** Stages other features put around routing (plugins before, cache after); built per route table. */
  extraStages?: { beforeRoute?: Stage[]; afterRoute?: Stage[] };
}

const hstsStage = (value: string): Stage => ({
  name: 'hsts',
  async handle(ctx, next) { ctx.addResponseHeader('strict-transport-security', value); return next(); },
});

export class ReverseProxyListener {
  readonly listener: HttpListener;
  readonly name: string;
  readonly sni?: SniContexts;
  #config: ReverseListenerConfig;
  #routes: RouteTable;
  #pipeline: Pipeline;

  constructor(config: ReverseListenerConfig, index: number, private readonly deps: ReverseDeps) {
    this.name = `reverse[${index}]`;
    this.#config = config;
    this.#routes = new RouteTable(config.routes);
    if (config.tls) this.sni = new SniContexts(config.tls);
    const info: ListenerInfo = {
      name: this.name, mode: 'reverse', nodeId: deps.nodeId, via: `1.1 ${deps.nodeId}`,
      log: deps.log.child({ listener: this.name }), isTrusted: deps.isTrusted,
    };
    this.#pipeline = this.#build();
    this.listener = new HttpListener({
      listen: config.listen, limits: config.limits, info, pipeline: () => this.#pipeline,
      tls: this.sni?.serverOptions(),
    });
    if (this.sni) this.sni.attach(this.listener.server as never);
  }

  get config(): ReverseListenerConfig { return this.#config; }
  get routes(): RouteTable { return this.#routes; }

  #build(): Pipeline {
    const cfg = this.#config;
    const stages: (Stage | undefined)[] = [
      accessLogStage(this.deps.metrics),
      errorResponderStage,
      cfg.tls?.hsts ? hstsStage(cfg.tls.hsts) : undefined,
      rateLimitStage(cfg.limits),
      ...(this.deps.extraStages?.beforeRoute ?? []),
      routeStage(() => this.#routes),
      ...(this.deps.extraStages?.afterRoute ?? []),
      proxyStage({
        pools: this.deps.pools, metrics: this.deps.metrics, maxBodySize: cfg.limits.max_body_size,
        proto: cfg.tls ? 'https' : 'http', onResult: this.deps.onResult,
      }),
    ];
    return compose(stages.filter((s): s is Stage => s !== undefined));
  }

  /** Swaps routes and stages for a new config of the same address; connections stay open. */
  reload(config: ReverseListenerConfig): void {
    this.#config = config;
    this.#routes = new RouteTable(config.routes);
    if (this.sni && config.tls) this.sni.reload(config.tls);
    this.#pipeline = this.#build();
  }
}
