/**
 * The pipeline stage that runs one listener's or one route's plugins: onRequest hooks in config
 * order (deny, respond, rewrite), then route hooks (reverse mode: pool or pinned upstream), and
 * onResponse hooks in reverse order on the response head (through PluginResponseSink). Plugin
 * failures become values here: fail_closed answers 503 (Proxy-Status), fail_open continues.
 */
import type { RequestContext } from '../core/context.js';
import { ProxyError } from '../core/errors.js';
import { originOf } from '../core/origin.js';
import type { Stage } from '../core/pipeline.js';
import { requestViewOf, requestWireOf, rewriteViewPath } from './context-view.js';
import type { CallReceiver } from './call-batcher.js';
import type { Plugin } from './plugin.js';
import { PluginResponseSink, pushHeader } from './plugin-response-sink.js';
import { encodeRequestView } from './request-wire.js';
import type { CallResult, HookName, RequestDecision, RequestView, RouteDecision, RouteTargets } from './plugin-types.js';

/** What the stage needs of a pool: membership of an upstream by origin. */
export interface PluginPool { find(origin: string): unknown }

export interface PluginStageOptions {
  /** The entry list's plugins, in config order. */
  plugins: readonly Plugin[];
  /** Live pools (route decisions are checked against them on every call). Omit where routing makes no sense. */
  pools?: () => ReadonlyMap<string, PluginPool>;
}

/** Logs and counts a failed call; the ProxyError to answer with under fail_closed, else undefined. */
export function pluginFailure(
  ctx: RequestContext, plugin: Plugin, hook: HookName, error: { kind: string; message: string }, onError: string,
): ProxyError | undefined {
  ctx.logFields.plugin_error = `${plugin.name}.${hook}:${error.kind}`;
  ctx.log.warn({ plugin: plugin.name, hook, kind: error.kind, on_error: onError, err: error.message }, 'plugin failed');
  // the detail reaches the client: name the plugin and the kind, never the plugin's own message
  return onError === 'fail_closed' ? new ProxyError('plugin_failed', `plugin ${plugin.name} failed (${error.kind})`) : undefined;
}

function routeTargets(pools: () => ReadonlyMap<string, PluginPool>): RouteTargets {
  return {
    hasPool: (name) => pools().has(name),
    findUpstream: (url) => {
      let origin: string;
      try { origin = originOf(url); } catch { return undefined; }
      for (const p of pools().values()) if (p.find(origin)) return origin;
      return undefined;
    },
  };
}

function rewrite(ctx: RequestContext, view: RequestView, d: Exclude<RequestDecision, null | { deny: unknown } | { respond: unknown }>): void {
  for (const name of d.remove_headers ?? []) {
    // a later plugin's removal also undoes an earlier plugin's set
    if (ctx.setRequestHeaders) ctx.setRequestHeaders = ctx.setRequestHeaders.filter(([n]) => n !== name);
    (ctx.removeRequestHeaders ??= []).push(name);
    delete view.headers[name];
  }
  for (const [name, value] of Object.entries(d.set_headers ?? {})) {
    const v = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
    (ctx.setRequestHeaders ??= []).push([name, v]);
    view.headers[name] = v;
  }
  if (d.rewrite_path !== undefined) ctx.path = rewriteViewPath(view, d.rewrite_path);
}

function respond(ctx: RequestContext, r: { status: number; headers: Record<string, string | string[]>; body: string }): void {
  const body = Buffer.from(r.body);
  const headers: string[] = [];
  for (const [name, value] of Object.entries(r.headers)) pushHeader(headers, name, value);
  if (body.length && r.headers['content-type'] === undefined) headers.push('content-type', 'text/plain; charset=utf-8');
  headers.push('content-length', String(body.length), 'x-request-id', ctx.id);
  if (ctx.extraResponseHeaders) headers.push(...ctx.extraResponseHeaders);
  ctx.sink.head(r.status, headers);
  if (ctx.req.method !== 'HEAD' && body.length) ctx.sink.data(body);
  ctx.sink.end();
}

function applyRoute(ctx: RequestContext, d: NonNullable<RouteDecision>, pools: ReadonlyMap<string, PluginPool>): void {
  if ('pool' in d) {
    ctx.pool = d.pool;
    ctx.pinnedUpstream = undefined;
    return;
  }
  // prefer the route's own pool when the upstream is in several
  let pool = ctx.pool !== undefined && pools.get(ctx.pool)?.find(d.upstream) ? ctx.pool : undefined;
  if (pool === undefined) for (const [name, p] of pools) if (p.find(d.upstream)) { pool = name; break; }
  if (pool === undefined) return; // removed since validation (admin drain): keep the route's pool
  ctx.pool = pool;
  ctx.pinnedUpstream = d.upstream;
}

/**
 * One request's way through a stage's plugins: the onRequest hooks in order, then the route hooks
 * until one names a target. Each hook call is queued (call-batcher.ts) and made with this turn's
 * other requests; the chain is its own receiver, so a call costs no closure.
 */
class PluginChain implements CallReceiver<RequestDecision | RouteDecision> {
  /** The request as encoded for plugins; re-encoded after a rewrite. */
  wire: string;
  view: RequestView | undefined;
  /** Plugins (from the first) whose onRequest passed: only their onResponse runs. */
  entered = 0;
  #at = 0;
  #routing = false;
  #resolve!: () => void;
  #reject!: (err: unknown) => void;

  constructor(
    private readonly ctx: RequestContext,
    private readonly next: () => Promise<void>,
    private readonly plugins: readonly Plugin[],
    /** Undefined: no route hook is called (no pools here, forward mode, or none has one). */
    private readonly targets: RouteTargets | undefined,
    private readonly pools: (() => ReadonlyMap<string, PluginPool>) | undefined,
  ) {
    this.wire = requestWireOf(ctx);
  }

  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#requestHooks(0);
    });
  }

  received(r: CallResult<RequestDecision | RouteDecision>): void {
    const plugin = this.plugins[this.#at]!;
    try {
      if (!this.#routing) {
        if (this.#onRequestDone(plugin, r as CallResult<RequestDecision>) === 'answered') { this.#resolve(); return; }
        this.entered++;
        this.#requestHooks(this.#at + 1);
      } else if (this.#routeDone(plugin, r as CallResult<RouteDecision>)) {
        this.#continue();
      } else {
        this.#routeHooks(this.#at + 1);
      }
    } catch (err) {
      this.#reject(err);
    }
  }

  #requestHooks(from: number): void {
    for (let i = from; i < this.plugins.length; i++) {
      if (this.plugins[i]!.has('onRequest')) {
        this.#at = i;
        this.plugins[i]!.enqueue('onRequest', [this.wire], this);
        return;
      }
      this.entered++;
    }
    this.#routing = true;
    this.#routeHooks(0);
  }

  #routeHooks(from: number): void {
    if (this.targets !== undefined) {
      for (let i = from; i < this.plugins.length; i++) {
        if (!this.plugins[i]!.has('route')) continue;
        this.#at = i;
        this.plugins[i]!.enqueue('route', [this.wire], this, this.targets);
        return;
      }
    }
    this.#continue();
  }

  #continue(): void {
    this.next().then(this.#resolve, this.#reject);
  }

  /** What an onRequest result means here: go on, or the request is answered. Throws a ProxyError to deny. */
  #onRequestDone(plugin: Plugin, r: CallResult<RequestDecision>): 'next' | 'answered' {
    const ctx = this.ctx;
    if (!r.ok) {
      const err = pluginFailure(ctx, plugin, 'onRequest', r.error, r.onError);
      if (err) throw err;
      return 'next';
    }
    const d = r.decision;
    if (d === null) return 'next';
    if ('deny' in d) {
      ctx.logFields.plugin = plugin.name;
      throw new ProxyError('denied', d.deny.reason, { status: d.deny.status });
    }
    if ('respond' in d) {
      ctx.logFields.plugin = plugin.name;
      respond(ctx, d.respond);
      return 'answered';
    }
    this.view ??= requestViewOf(ctx);
    rewrite(ctx, this.view, d);
    this.wire = encodeRequestView(this.view);
    return 'next';
  }

  /** Whether a route result named a target (the first that does decides). */
  #routeDone(plugin: Plugin, r: CallResult<RouteDecision>): boolean {
    if (!r.ok) {
      const err = pluginFailure(this.ctx, plugin, 'route', r.error, r.onError);
      if (err) throw err;
      return false;
    }
    if (r.decision === null) return false;
    applyRoute(this.ctx, r.decision, this.pools!());
    this.ctx.logFields.routed_by = plugin.name;
    return true;
  }
}

export function pluginStage(opts: PluginStageOptions): Stage {
  const plugins = opts.plugins;
  const pools = opts.pools;
  const targets = pools ? routeTargets(pools) : undefined;
  return {
    name: 'plugins',
    handle(ctx, next) {
      let request = false;
      let route = false;
      let response = false;
      for (const p of plugins) {
        request ||= p.has('onRequest');
        route ||= p.has('route');
        response ||= p.has('onResponse');
      }
      // route hooks choose among pools: only where the stage has them, in reverse mode
      const routing = route && targets !== undefined && ctx.listener.mode === 'reverse';
      if (!request && !routing) {
        if (response) {
          const wire = requestWireOf(ctx); // now: later stages may change the request (strip_prefix)
          ctx.wrapSink((inner) => new PluginResponseSink(inner, ctx, () => wire, plugins, () => plugins.length, pluginFailure));
        }
        return next();
      }
      const chain = new PluginChain(ctx, next, plugins, routing ? targets : undefined, pools);
      // Wrapped before onRequest runs, so a plugin's own `respond` passes the onResponse of the plugins before it.
      if (response) ctx.wrapSink((inner) => new PluginResponseSink(inner, ctx, () => chain.wire, plugins, () => chain.entered, pluginFailure));
      return chain.run();
    },
  };
}
