/**
 * The pipeline stage that runs one listener's or one route's plugins: onRequest hooks in config
 * order (deny, respond, rewrite), then route hooks (reverse mode: pool or pinned upstream), and
 * onResponse hooks in reverse order on the response head (through PluginResponseSink). Plugin
 * failures become values here: fail_closed answers 503 (Proxy-Status), fail_open continues.
 */
import type { RequestContext } from '../core/context.js';
import { ProxyError } from '../core/errors.js';
import { originOf } from '../config/origin.js';
import type { Stage } from '../core/pipeline.js';
import type { Plugin } from './plugin.js';
import { PluginResponseSink, pushHeader } from './plugin-response-sink.js';
import { traceCall } from './plugin-trace.js';
import type { HookName, RequestDecision, RequestView, RouteDecision, RouteTargets } from './plugin-types.js';
import { requestViewOf, rewriteViewPath } from './plugin-view.js';
import { noteRouteFallback } from '../observability/route-fallbacks.js';

/** What the stage needs of a pool: membership of an upstream by origin. */
export interface PluginPool { find(origin: string): unknown }

export interface PluginStageOptions {
  /** The entry list's plugins, in config order (asked once, at the first request). */
  plugins: () => readonly Plugin[];
  /** Live pools (route decisions are checked against them on every call). Omit where routing makes no sense. */
  pools?: () => ReadonlyMap<string, PluginPool>;
}

/** Logs and counts a failed call; the ProxyError to answer with under fail_closed, else undefined. */
function pluginFailure(
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
    ctx.slots.pool = d.pool;
    ctx.slots.pinnedUpstream = undefined;
    return;
  }
  // prefer the route's own pool when the upstream is in several
  let pool = ctx.slots.pool !== undefined && pools.get(ctx.slots.pool)?.find(d.upstream) ? ctx.slots.pool : undefined;
  if (pool === undefined) for (const [name, p] of pools) if (p.find(d.upstream)) { pool = name; break; }
  if (pool === undefined) return; // removed since validation (admin drain): keep the route's pool
  ctx.slots.pool = pool;
  ctx.slots.pinnedUpstream = d.upstream;
}

/**
 * One request's way through a stage's plugins: the onRequest hooks in config order, then the route
 * hooks until one names a target. Returns how many plugins (from the first) took part, whose
 * onResponse hooks then run, or 'answered' when a plugin answered the request itself.
 */
async function requestHooks(
  ctx: RequestContext, plugins: readonly Plugin[], view: RequestView, targets: RouteTargets | undefined,
  pools: (() => ReadonlyMap<string, PluginPool>) | undefined, entered: { count: number },
): Promise<'answered' | 'next'> {
  for (const plugin of plugins) {
    if (plugin.has('onRequest')) {
      const t0 = ctx.trace ? performance.now() : 0;
      const r = await plugin.onRequest(view);
      if (ctx.trace) traceCall(ctx, plugin, 'onRequest', r, t0);
      if (!r.ok) {
        const err = pluginFailure(ctx, plugin, 'onRequest', r.error, r.onError);
        if (err) throw err;
      } else if (r.decision !== null) {
        const d = r.decision;
        if ('deny' in d) {
          ctx.logFields.plugin = plugin.name;
          throw new ProxyError('denied', d.deny.reason, { status: d.deny.status });
        }
        if ('respond' in d) {
          ctx.logFields.plugin = plugin.name;
          respond(ctx, d.respond);
          return 'answered';
        }
        rewrite(ctx, view, d);
      }
    }
    entered.count++;
  }
  if (targets === undefined) return 'next';
  for (const plugin of plugins) {
    if (!plugin.has('route')) continue;
    const t0 = ctx.trace ? performance.now() : 0;
    const r = await plugin.route(view, targets);
    if (ctx.trace) traceCall(ctx, plugin, 'route', r, t0);
    if (!r.ok) {
      const err = pluginFailure(ctx, plugin, 'route', r.error, r.onError);
      if (err) throw err;
      noteRouteFallback(ctx, plugin.name, r.error);
      continue;
    }
    if (r.decision === null) continue;
    applyRoute(ctx, r.decision, pools!());
    ctx.logFields.routed_by = plugin.name;
    break;
  }
  return 'next';
}

/** What a stage's plugins export, found once (at the first request: the plugins are loaded by then). */
interface StagePlugins { list: readonly Plugin[]; request: boolean; route: boolean; response: boolean }

function stagePlugins(plugins: readonly Plugin[]): StagePlugins {
  return {
    list: plugins,
    request: plugins.some((p) => p.has('onRequest')),
    route: plugins.some((p) => p.has('route')),
    response: plugins.some((p) => p.has('onResponse')),
  };
}

export function pluginStage(opts: PluginStageOptions): Stage {
  const pools = opts.pools;
  const targets = pools ? routeTargets(pools) : undefined;
  let found: StagePlugins | undefined;
  return {
    name: 'plugins',
    async handle(ctx, next) {
      const p = (found ??= stagePlugins(opts.plugins()));
      // route hooks choose among pools: only where the stage has them, in reverse mode
      const routing = p.route && targets !== undefined && ctx.listener.mode === 'reverse';
      if (!p.request && !routing && !p.response) return next();
      const view = requestViewOf(ctx);
      const entered = { count: p.request || routing ? 0 : p.list.length };
      // Wrapped before onRequest runs, so a plugin's own `respond` passes the onResponse of the plugins before it.
      if (p.response) ctx.wrapSink((inner) => new PluginResponseSink(inner, ctx, view, p.list, () => entered.count, pluginFailure));
      if (!p.request && !routing) return next();
      if (await requestHooks(ctx, p.list, view, routing ? targets : undefined, pools, entered) === 'answered') return;
      return next();
    },
  };
}
