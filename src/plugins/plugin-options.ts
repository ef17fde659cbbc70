/**
 * A plugin's settings: what a config entry and `plugins.*` may set, the defaults, and the part the
 * sandbox needs.
 */
import type { LogLimiter } from './log-limiter.js';
import type { SandboxOptions } from './plugin-sandbox.js';
import type { OnError, PluginLogger, PluginObserver } from './plugin-types.js';

export interface PluginOptions {
  /** Name in logs, metrics and /status. */
  name: string;
  /** Absolute path of the plugin file. */
  file: string;
  /** `ctx.config` (the entry's `options`). Default {}. */
  config?: unknown;
  /** Explicit policy; default: fail_closed for onRequest/onResponse, fail_open for route. */
  onError?: OnError;
  /** Heap per isolate, MB. Default 32. */
  memoryLimitMb?: number;
  /** Wall time per call, ms. Default 20. */
  timeoutMs?: number;
  /** Wall time for the module top level (load, reload, rebuild), ms. Default 250. */
  loadTimeoutMs?: number;
  /** CPU a call may use before the watchdog terminates the isolate, ms. Default 1.5 × timeoutMs. */
  cpuLimitMs?: number;
  /** Terminations (timeout, oom, crash) within windowMs that quarantine the plugin. Default 5 in 10s. */
  quarantine?: { failures: number; windowMs: number };
  /** Default 20 lines per call (dropped inside the isolate beyond that) and 100 per second. */
  logLinesPerCall?: number;
  logLinesPerSecond?: number;
  logger?: PluginLogger;
  observer?: PluginObserver;
  /** How often the idle-CPU watchdog looks, ms; 0 = off. Default 1000. */
  watchdogIntervalMs?: number;
}

const silent: PluginLogger = { info() {}, warn() {}, error() {} };

export type FullOptions = ReturnType<typeof withDefaults>;

export function withDefaults(o: PluginOptions) {
  const timeoutMs = o.timeoutMs ?? 20;
  return {
    ...o,
    memoryLimitMb: o.memoryLimitMb ?? 32,
    timeoutMs,
    loadTimeoutMs: o.loadTimeoutMs ?? 250,
    cpuLimitMs: o.cpuLimitMs ?? timeoutMs * 1.5,
    quarantine: o.quarantine ?? { failures: 5, windowMs: 10_000 },
    logLinesPerCall: o.logLinesPerCall ?? 20,
    logLinesPerSecond: o.logLinesPerSecond ?? 100,
    logger: o.logger ?? silent,
    watchdogIntervalMs: o.watchdogIntervalMs ?? 1000,
  };
}

export function sandboxOptions(o: FullOptions, log: LogLimiter): SandboxOptions {
  return {
    memoryLimitMb: o.memoryLimitMb, timeoutMs: o.timeoutMs, loadTimeoutMs: o.loadTimeoutMs, config: o.config ?? {},
    logLinesPerCall: o.logLinesPerCall, onLog: (lvl, text) => log.emit(lvl, text), onDropped: (n) => log.drop(n),
    onCatastrophic: (message) => o.logger.error({ plugin: o.name, err: message }, 'plugin isolate catastrophic error'),
  };
}
