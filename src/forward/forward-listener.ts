/** A forward-proxy listener: its two pipelines (HTTP and CONNECT), in one place, and the state a reload swaps. */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ForwardListener as ForwardListenerConfig, PluginEntry } from '../config/types.js';
import { accessLogStage, errorResponderStage } from '../core/common-stages.js';
import { RequestContext, listenerInfo, type ListenerInfo } from '../core/context.js';
import { HttpListener, refuse, versionError } from '../core/http-listener.js';
import { loopStage } from '../core/via.js';
import { traceStage } from '../core/trace-stage.js';
import { simulate, type SimulationResult } from '../core/simulate.js';
import type { SimulationInput } from '../core/simulated-request.js';
import { dryForwardStage } from './dry-forward-stage.js';
import type { TraceRecorder } from '../observability/trace-recorder.js';
import { peerAddress } from '../core/client-address.js';
import { rateLimitStage, type SharedBuckets } from '../core/limits-stage.js';
import { traceContextStage } from '../observability/trace-context.js';
import type { SpanRecorder } from '../observability/trace-context.js';
import { compose, type Pipeline, type Stage } from '../core/pipeline.js';
import { requestIdFor } from '../core/request-id.js';
import { cacheStage } from '../cache/cache-stage.js';
import type { HttpCache } from '../cache/http-cache.js';
import type { Metrics } from '../observability/metrics.js';
import { absoluteFormStage, targetOf } from './absolute-form.js';
import { accessControlStage } from './access-control-stage.js';
import { authStage } from './auth-stage.js';
import { connectStage, connectTargetStage } from './connect-tunnel.js';
import { DestinationPools } from './destination-pools.js';
import { ForwardPolicy } from './forward-policy.js';
import { forwardStage } from './forward-stage.js';
import { pacStage } from './pac-stage.js';
import type { LookupAll } from './ssrf-guard.js';
import { TlsInterceptor } from './tls-intercept.js';

export interface ForwardDeps {
  log: Logger;
  metrics: Metrics;
  nodeId: string;
  /** The name added to Via and checked for loops (default nodeId). */
  viaName?: string;
  isTrusted: (ip: string) => boolean;
  /** The shared HTTP cache, used when the listener has `cache: true`. */
  cache?: HttpCache;
  /** The stage running the listener's plugins (undefined: none). */
  pluginsFor?: (entries: readonly PluginEntry[]) => Stage | undefined;
  /** Decision traces (core/trace-stage.ts); the stage is left out while no one can read a trace. */
  traces?: TraceRecorder;
  /** Resolver for the SSRF guard; tests inject a stub (DNS rebinding), production uses dns.lookup. */
  lookup?: LookupAll;
  /** The OTLP span recorder, once started (tracing.otlp_endpoint); undefined: no export. */
  spanRecorder?: () => SpanRecorder | undefined;
  /** Fleet-wide rate-limit buckets (shared.redis); undefined: per process. */
  sharedBuckets?: SharedBuckets['limiter'];
}

export class ForwardProxyListener {
  readonly listener: HttpListener;
  readonly name: string;
  readonly #info: ListenerInfo;
  /** Serves requests decrypted from intercepted tunnels; never listens itself. */
  readonly #inner: HttpListener;
  readonly #pools = new DestinationPools();
  /** Client sockets of open CONNECT tunnels: node:http no longer tracks them. */
  readonly #tunnels = new Set<Duplex>();
  #config: ForwardListenerConfig;
  #policy?: ForwardPolicy;
  #pipeline: Pipeline = () => Promise.reject(new Error('forward listener not loaded'));
  #connectPipeline: Pipeline = this.#pipeline;
  #dryPipeline?: Pipeline;

  #shared(): SharedBuckets | undefined {
    return this.deps.sharedBuckets && { limiter: this.deps.sharedBuckets, scope: this.name };
  }

  constructor(config: ForwardListenerConfig, index: number, private readonly deps: ForwardDeps) {
    this.name = `forward[${index}]`;
    this.#config = config;
    this.#info = listenerInfo({ name: this.name, mode: 'forward', nodeId: deps.nodeId, viaName: deps.viaName, log: deps.log, isTrusted: deps.isTrusted });
    const pipeline = () => this.#pipeline;
    this.listener = new HttpListener({
      listen: config.listen, limits: config.limits, info: this.#info, pipeline,
      onConnect: (req, socket, head) => this.#onConnect(req, socket as Socket, head),
    });
    this.#inner = new HttpListener({ listen: config.listen, limits: config.limits, info: this.#info, pipeline });
  }

  get config(): ForwardListenerConfig { return this.#config; }
  get policy(): ForwardPolicy | undefined { return this.#policy; }
  get tunnels(): number { return this.#tunnels.size; }

  /** Loads the policy (block lists, users file…) and starts listening. */
  async start(): Promise<void> {
    await this.#load(this.#config);
    await this.listener.start();
  }

  /** Loads the policy without listening (the offline simulator). */
  async prepare(): Promise<void> {
    await this.#load(this.#config);
  }

  /** Swaps the policy and pipelines for a new config of the same address; connections and tunnels stay open. */
  async reload(config: ForwardListenerConfig): Promise<void> {
    await this.#load(config);
  }

  async stop(timeoutMs: number): Promise<void> {
    const timer = setTimeout(() => { for (const s of this.#tunnels) s.destroy(); }, timeoutMs);
    await this.listener.stop(timeoutMs);
    while (this.#tunnels.size) await new Promise((r) => this.#tunnels.values().next().value!.once('close', r));
    clearTimeout(timer);
    this.#inner.server.closeAllConnections();
    await this.#pools.close();
    this.#policy?.close();
  }

  async #load(config: ForwardListenerConfig): Promise<void> {
    const { policy, problems } = await ForwardPolicy.compile(config, this.name, { log: this.#info.log, lookup: this.deps.lookup });
    if (!policy) throw new Error(problems.join('\n'));
    for (const w of policy.warnings) this.#info.log.warn({ warning: w }, 'block list line skipped');
    const old = this.#policy;
    this.#config = config;
    this.#policy = policy;
    this.#build(policy);
    old?.close();
  }

  #build(policy: ForwardPolicy): void {
    const cfg = policy.cfg;
    const plugins = cfg.plugins.length ? this.deps.pluginsFor?.(cfg.plugins) : undefined;
    // the simulator's: no access log, metrics or rate limit; the SSRF verdict but nothing sent
    this.#dryPipeline = compose([
      errorResponderStage, loopStage(this.#info.viaName), absoluteFormStage, authStage(policy, this.deps.metrics), accessControlStage(policy), plugins,
      this.#cacheStage(cfg), dryForwardStage(policy),
    ].filter((s): s is Stage => s !== undefined));
    const traces = this.deps.traces?.active ? traceStage(this.deps.traces) : undefined;
    const common: (Stage | undefined)[] = [accessLogStage(this.deps.metrics), errorResponderStage, traces, loopStage(this.#info.viaName),
      cfg.trace_context ? traceContextStage(this.deps.spanRecorder) : undefined, rateLimitStage(cfg.limits, this.#shared())];
    const policyStages = [authStage(policy, this.deps.metrics), accessControlStage(policy), plugins];
    const interceptor = policy.interceptCa ? new TlsInterceptor(policy.interceptCa, this.#inner) : undefined;
    this.#pipeline = compose([
      ...common,
      pacStage(cfg.pac.internal_domains, () => cfg.pac.proxy || this.#listenAddress()),
      absoluteFormStage,
      ...policyStages,
      this.#cacheStage(cfg),
      forwardStage(policy, this.#pools),
    ].filter((s): s is Stage => s !== undefined));
    this.#connectPipeline = compose([
      ...common, connectTargetStage, ...policyStages, connectStage(policy, interceptor),
    ].filter((s): s is Stage => s !== undefined));
  }

  /** What this listener would do with a request (absolute-form URL), without sending, storing or counting anything. */
  simulate(input: SimulationInput): Promise<SimulationResult> {
    if (!this.#dryPipeline) throw new Error(`${this.name} is not started`);
    return simulate(this.#dryPipeline, this.#info, input);
  }

  #cacheStage(cfg: ForwardListenerConfig): Stage | undefined {
    if (!cfg.cache || !this.deps.cache) return undefined;
    return cacheStage({
      cache: this.deps.cache, mode: 'forward', scheme: 'http', enabled: () => true, waitLimit: () => 30_000,
      // keyed on the destination the request really goes to (intercepted requests are origin-form)
      targetUri: (ctx) => {
        const t = targetOf(ctx);
        return t && `${t.scheme}://${t.authority}${ctx.path}`;
      },
    });
  }

  #listenAddress(): string {
    const a = this.listener.address;
    const host = a.host === '0.0.0.0' || a.host === '::' ? '127.0.0.1' : a.host;
    return `${host.includes(':') ? `[${host}]` : host}:${a.port}`;
  }

  /** A CONNECT: a RequestContext on the raw socket, so refusals are ordinary responses and the tunnel is access-logged. */
  #onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    res.shouldKeepAlive = false;
    const bad = versionError(req);
    if (bad) { socket.on('error', () => socket.destroy()); res.once('finish', () => socket.end()); refuse(req, res, bad, this.#info.log); return; }
    const ctx = new RequestContext(requestIdFor(req.headers['x-request-id']), req, res, this.#info, peerAddress(socket), null);
    ctx.upgrade = { socket, head, protocol: '' };
    socket.on('error', () => socket.destroy());
    this.#tunnels.add(socket);
    socket.once('close', () => this.#tunnels.delete(socket));
    // a refusal (403, 407, 502…) is the last thing on this connection
    res.once('finish', () => { if (ctx.finalStatus !== 200) socket.end(); });
    this.#connectPipeline(ctx).catch((err) => {
      this.#info.log.error({ err, reqId: ctx.id }, 'connect pipeline failed');
      socket.destroy();
    });
  }
}
