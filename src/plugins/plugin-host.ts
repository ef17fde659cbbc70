/**
 * The Gateway's one plugin registry and its life cycle: built from `config.plugins`, every configured
 * entry loaded before any listener opens, reloaded (changed files only) and pruned on config reloads,
 * replaced when the `plugins` settings change, bound to metrics, and closed on stop.
 */
import type { Logger } from 'pino';
import type client from 'prom-client';
import type { GatehouseConfig, PluginEntry } from '../config/types.js';
import type { Stage } from '../core/pipeline.js';
import type { Plugin } from './plugin.js';
import { pluginMetrics } from './plugin-metrics.js';
import { PluginRegistry, registryOptionsFromConfig, type ReloadReport } from './plugin-registry.js';
import { pluginStage, type PluginPool } from './plugin-stage.js';
import type { PluginLogger, PluginObserver } from './plugin-types.js';

/** Every plugin entry of a config with its key, e.g. `reverse[0].routes[1].plugins[0]`. */
export function configuredPlugins(config: GatehouseConfig): { key: string; entry: PluginEntry }[] {
  const out: { key: string; entry: PluginEntry }[] = [];
  config.reverse.forEach((l, i) => l.routes.forEach((r, j) => r.plugins.forEach((entry, k) => {
    out.push({ key: `reverse[${i}].routes[${j}].plugins[${k}]`, entry });
  })));
  config.forward.forEach((l, i) => l.plugins.forEach((entry, k) => out.push({ key: `forward[${i}].plugins[${k}]`, entry })));
  return out;
}

/** A plugin entry that does not load: `key: file:line:col: message` lines. */
export class PluginConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'PluginConfigError';
  }
}

/** The pino logger as a plugin logger. Failed calls are logged by the plugin stage with the request id, so the host's own line is debug. */
function pluginLogger(log: Logger): PluginLogger {
  return {
    info: (o, m) => log.info(o, m),
    warn: (o, m) => (m === 'plugin call failed' ? log.debug(o, m) : log.warn(o, m)),
    error: (o, m) => log.error(o, m),
  };
}

export class PluginHost {
  #registry: PluginRegistry;
  #settings: string;
  readonly #log: Logger;
  readonly #logger: PluginLogger;
  readonly #observer: PluginObserver;
  readonly #retired = new Set<PluginRegistry>();
  #config: GatehouseConfig;
  #pruneTimer?: NodeJS.Timeout;

  /** Nothing is loaded until load(). */
  constructor(config: GatehouseConfig, log: Logger, metrics: client.Registry) {
    this.#log = log.child({ unit: 'plugins' });
    this.#logger = pluginLogger(this.#log);
    this.#observer = pluginMetrics(metrics, () => this.#registry.stats());
    this.#config = config;
    this.#settings = JSON.stringify(config.plugins);
    this.#registry = this.#newRegistry(config);
  }

  /** Loads every configured plugin (each in its own process); throws PluginConfigError when one does not load. */
  async load(): Promise<void> {
    await this.#loadAll(this.#config, this.#registry);
  }

  /**
   * The stage for a list of entries (a route's or a forward listener's); undefined when the list is
   * empty. Its plugins are looked up at the first request, when load() or prepareReload() has loaded them.
   */
  stageFor(entries: readonly PluginEntry[], pools?: () => ReadonlyMap<string, PluginPool>): Stage | undefined {
    if (entries.length === 0) return undefined;
    const registry = this.#registry;
    return pluginStage({ plugins: () => entries.map((e) => registry.use(e)), pools });
  }

  /**
   * Before a config reload swaps anything: plugins whose file changed are rebuilt (a broken new version
   * keeps the old one serving, logged), and the new config's entries are loaded. Throws
   * PluginConfigError, changing nothing the current config uses, when a new entry does not load.
   */
  async prepareReload(config: GatehouseConfig): Promise<ReloadReport> {
    const settings = JSON.stringify(config.plugins);
    if (settings !== this.#settings) {
      // dir or limits changed: every plugin is built afresh with the new settings
      const fresh = this.#newRegistry(config);
      try { await this.#loadAll(config, fresh); } catch (e) { fresh.close(); throw e; }
      this.#retire(this.#registry, config.shutdown_timeout);
      this.#registry = fresh;
      this.#settings = settings;
      return { reloaded: fresh.list().map((p) => ({ plugin: p.name, version: p.version, changed: true })), failed: [] };
    }
    const report = await this.#registry.reload({ ifChanged: true });
    const changed = report.reloaded.filter((r) => r.changed);
    if (changed.length || report.failed.length) this.#log.info({ changed, failed: report.failed }, 'plugins reloaded');
    await this.#loadAll(config, this.#registry);
    return report;
  }

  /** After the listeners use `config`: closes the plugins it no longer references, once in-flight requests had time to finish. */
  commit(config: GatehouseConfig): void {
    this.#config = config;
    clearTimeout(this.#pruneTimer);
    this.#pruneTimer = setTimeout(() => {
      const registry = this.#registry;
      registry.prune(configuredPlugins(this.#config).map(({ entry }) => registry.use(entry)));
    }, config.shutdown_timeout).unref();
  }

  /** For GET /status. */
  status(): Record<string, unknown>[] {
    return this.#registry.stats().map((s) => ({
      name: s.name, file: s.file, version: s.version, state: s.state, hooks: s.hooks, on_error: s.onError,
      calls: s.calls, errors: s.errors, terminations: s.terminations, restarts: s.restarts, reloads: s.reloads,
      heap_bytes: s.heapBytes, pid: s.pid, logs_dropped: s.logsDropped, last_error: s.lastError, loaded_at: s.loadedAt,
    }));
  }

  list(): Plugin[] { return this.#registry.list(); }

  close(): void {
    clearTimeout(this.#pruneTimer);
    for (const r of this.#retired) r.close();
    this.#retired.clear();
    this.#registry.close();
  }

  #newRegistry(config: GatehouseConfig): PluginRegistry {
    return new PluginRegistry({
      ...registryOptionsFromConfig(config.plugins), watch: config.plugins.watch, logger: this.#logger, observer: this.#observer,
    });
  }

  /** Loads a config's plugins side by side (a process each); every entry that fails is reported. */
  async #loadAll(config: GatehouseConfig, registry: PluginRegistry): Promise<void> {
    const entries = configuredPlugins(config);
    const results = await Promise.allSettled(entries.map(({ entry }) => registry.load(entry)));
    const problems = results.flatMap((r, i) => (r.status === 'rejected' ? [`${entries[i]!.key}: ${(r.reason as Error).message}`] : []));
    if (problems.length) throw new PluginConfigError(problems);
  }

  // In-flight requests may still call the old registry's plugins: close it once they have had time to finish.
  #retire(registry: PluginRegistry, graceMs: number): void {
    this.#retired.add(registry);
    setTimeout(() => { registry.close(); this.#retired.delete(registry); }, graceMs).unref();
  }
}
