/**
 * The configured plugins: resolves config entries against `plugins.dir`, loads each distinct
 * (file, options, on_error) once, reloads them (SIGHUP, admin, or a file watch), and reports
 * stats. `checkPlugin` is the `gatehouse check` entry point.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import type { GatehouseConfig, PluginEntry } from '../config/types.js';
import type { PluginOptions } from './plugin-options.js';
import { Plugin } from './plugin.js';
import { PluginLoadError } from './plugin-source.js';
import type { OnError, PluginLogger, PluginObserver, PluginStats } from './plugin-types.js';

export interface ResolvedEntry { file: string; options: Record<string, unknown>; onError: OnError | undefined }

export interface RegistryOptions {
  /** Directory plugin files are resolved against (config `plugins.dir`). */
  dir: string;
  memoryLimitMb?: number;
  cpuLimitMs?: number;
  timeoutMs?: number;
  /** Reload a plugin when its file changes (fs.watch on its directory, 100ms debounce). Default false. */
  watch?: boolean;
  logger?: PluginLogger;
  observer?: PluginObserver;
  /** Passed through to every Plugin (quarantine, log rates, load timeout, grace). */
  tuning?: Pick<PluginOptions, 'quarantine' | 'logLinesPerCall' | 'logLinesPerSecond' | 'loadTimeoutMs' | 'graceMs'>;
}

export interface ReloadReport {
  reloaded: { plugin: string; version: string; changed: boolean }[];
  failed: { plugin: string; error: string }[];
}

/** RegistryOptions from the config's `plugins` section (the loader has made sizes bytes and durations ms). */
export function registryOptionsFromConfig(
  cfg: Pick<GatehouseConfig['plugins'], 'dir' | 'memory_limit' | 'cpu_limit' | 'timeout'>,
): RegistryOptions {
  return {
    dir: cfg.dir,
    memoryLimitMb: Math.max(8, Math.round(cfg.memory_limit / (1024 * 1024))),
    cpuLimitMs: cfg.cpu_limit,
    timeoutMs: cfg.timeout,
  };
}

/** Checks an entry's shape and resolves its file against `dir`. Throws Error with a message for `key: message`. */
export function resolveEntry(entry: unknown, dir: string): ResolvedEntry {
  const obj = typeof entry === 'string' ? { file: entry } : entry;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error('must be a file name or { file, options, on_error }');
  const { file, options, on_error: onError, ...rest } = obj as Record<string, unknown>;
  const unknownKey = Object.keys(rest)[0];
  if (unknownKey !== undefined) throw new Error(`unknown key "${unknownKey}" (allowed: file, options, on_error)`);
  if (typeof file !== 'string' || file === '') throw new Error('file must be a non-empty string');
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) throw new Error('options must be an object');
  if (onError !== undefined && onError !== 'fail_closed' && onError !== 'fail_open') throw new Error('on_error must be fail_closed or fail_open');
  return {
    file: isAbsolute(file) ? file : resolve(dir, file),
    options: (options as Record<string, unknown> | undefined) ?? {},
    onError: onError as OnError | undefined,
  };
}

/**
 * Loads `file` the way the proxy would (compile, imports, top level, smoke call) and returns
 * the problems as `file:line:col: message` lines; empty when the plugin is fine.
 */
export async function checkPlugin(
  file: string, opts: { memoryLimitMb?: number; cpuLimitMs?: number; timeoutMs?: number; options?: Record<string, unknown> } = {},
): Promise<string[]> {
  try {
    (await Plugin.load({ name: basename(file), file: resolve(file), config: opts.options ?? {}, memoryLimitMb: opts.memoryLimitMb,
      cpuLimitMs: opts.cpuLimitMs, timeoutMs: opts.timeoutMs })).close();
    return [];
  } catch (err) {
    return [err instanceof PluginLoadError ? err.message : `${file}: ${String(err)}`];
  }
}

const keyOf = (r: ResolvedEntry): string => `${r.file}\0${JSON.stringify(r.options)}\0${r.onError ?? ''}`;

export class PluginRegistry {
  #opts: RegistryOptions;
  #byKey = new Map<string, Plugin>();
  #loading = new Map<string, Promise<Plugin>>();
  /** Names of plugins still loading, so two loads never take the same name. */
  #reserved = new Set<string>();
  #watchers = new Map<string, FSWatcher>();
  #pending = new Map<string, NodeJS.Timeout>();

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
  }

  /**
   * The plugin for a config entry, loading it on first use. Identical entries share one instance
   * (and its module state). Rejects PluginLoadError (or Error for a bad entry) when it cannot load.
   */
  load(entry: PluginEntry): Promise<Plugin> {
    let key: string;
    let r: ResolvedEntry;
    try {
      r = resolveEntry(entry, this.#opts.dir);
      key = keyOf(r);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const existing = this.#byKey.get(key);
    if (existing) return Promise.resolve(existing);
    let loading = this.#loading.get(key);
    if (!loading) {
      const name = this.#uniqueName(basename(r.file, extname(r.file)));
      this.#reserved.add(name);
      loading = Plugin.load({
        ...this.#opts.tuning,
        name,
        file: r.file, config: r.options, onError: r.onError,
        memoryLimitMb: this.#opts.memoryLimitMb, cpuLimitMs: this.#opts.cpuLimitMs, timeoutMs: this.#opts.timeoutMs,
        logger: this.#opts.logger, observer: this.#opts.observer,
      }).then((plugin) => {
        this.#byKey.set(key, plugin);
        if (this.#opts.watch) this.#watch(r.file);
        return plugin;
      }).finally(() => { this.#loading.delete(key); this.#reserved.delete(name); });
      this.#loading.set(key, loading);
    }
    return loading;
  }

  /** The loaded plugin for a config entry (load() it first). */
  use(entry: PluginEntry): Plugin {
    const plugin = this.#byKey.get(keyOf(resolveEntry(entry, this.#opts.dir)));
    if (!plugin) throw new Error(`plugin ${JSON.stringify(entry)} is not loaded`);
    return plugin;
  }

  get(name: string): Plugin | undefined {
    return this.list().find((p) => p.name === name);
  }

  list(): Plugin[] {
    return [...this.#byKey.values()];
  }

  /**
   * Rebuilds every plugin from its file; failures keep the old version and are reported.
   * `ifChanged`: only plugins whose file changed (or that are quarantined) get a new isolate.
   */
  reload(opts: { ifChanged?: boolean } = {}): Promise<ReloadReport> {
    return this.#reloadWhere(() => true, opts);
  }

  /** Closes plugins no longer referenced by the config (after a config reload). */
  prune(keep: Iterable<Plugin>): void {
    const live = new Set(keep);
    for (const [key, p] of this.#byKey) {
      if (!live.has(p)) { p.close(); this.#byKey.delete(key); }
    }
  }

  stats(): PluginStats[] {
    return this.list().map((p) => p.stats());
  }

  close(): void {
    for (const w of this.#watchers.values()) w.close();
    for (const t of this.#pending.values()) clearTimeout(t);
    this.#watchers.clear();
    for (const p of this.#byKey.values()) p.close();
    this.#byKey.clear();
  }

  async #reloadWhere(pick: (p: Plugin) => boolean, opts: { ifChanged?: boolean } = {}): Promise<ReloadReport> {
    const report: ReloadReport = { reloaded: [], failed: [] };
    for (const p of this.list().filter(pick)) {
      const r = await p.reload(opts);
      if (r.ok) report.reloaded.push({ plugin: p.name, version: r.version, changed: r.changed });
      else report.failed.push({ plugin: p.name, error: r.error.message });
    }
    return report;
  }

  #uniqueName(base: string): string {
    const taken = new Set([...this.list().map((p) => p.name), ...this.#reserved]);
    if (!taken.has(base)) return base;
    let i = 2;
    while (taken.has(`${base}#${i}`)) i++;
    return `${base}#${i}`;
  }

  // Watch the directory, not the file: editors replace files by rename, which ends a file watch.
  #watch(file: string): void {
    const dir = dirname(file);
    if (this.#watchers.has(dir)) return;
    try {
      const w = watch(dir, (_event, name) => {
        if (!name) return;
        const changed = resolve(dir, name.toString());
        if (!this.list().some((p) => p.file === changed)) return;
        clearTimeout(this.#pending.get(changed));
        this.#pending.set(changed, setTimeout(() => {
          this.#pending.delete(changed);
          void this.#reloadWhere((p) => p.file === changed, { ifChanged: true })
            .then((report) => this.#opts.logger?.info({ file: changed, ...report }, 'plugin file changed'));
        }, 100).unref());
      });
      w.unref();
      w.on('error', (err) => this.#opts.logger?.warn({ dir, err: err.message }, 'plugin watch failed'));
      this.#watchers.set(dir, w);
    } catch (err) {
      this.#opts.logger?.warn({ dir, err: (err as Error).message }, 'plugin watch failed');
    }
  }
}
