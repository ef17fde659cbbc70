/** A plugin's settings: what a config entry and `plugins.*` may set, and the defaults. */
import type { OnError, PluginLogger, PluginObserver } from './plugin-types.js';
import type { SandboxSettings } from './sandbox/protocol.js';

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
  /** CPU time one hook call may use, ms. Default 50. */
  cpuLimitMs?: number;
  /** Wall time after which a hook call is stopped whatever its CPU, ms. Default 500. */
  timeoutMs?: number;
  /** Wall time for the module top level (load, reload, restart), ms. Default 1000. */
  loadTimeoutMs?: number;
  /** Silence of a plugin process owing answers, beyond timeoutMs, before it is killed, ms. Default 1000. */
  graceMs?: number;
  /** Terminations (timeout, out of memory, crash) within windowMs that quarantine the plugin. Default 5 in 60s. */
  quarantine?: { failures: number; windowMs: number };
  /** Default 20 lines per call (dropped inside the isolate beyond that) and 100 per second. */
  logLinesPerCall?: number;
  logLinesPerSecond?: number;
  logger?: PluginLogger;
  observer?: PluginObserver;
  /** Send the calls of one event-loop turn in one message. Default true; false only to measure what that saves. */
  batchCalls?: boolean;
}

const silent: PluginLogger = { info() {}, warn() {}, error() {} };

/** Characters of JSON a decision may have (a `respond` body is at most 64 KiB, see decision-validate.ts). */
const MAX_RESULT_CHARS = 1024 * 1024;
/** Time for a plugin process to start before the plugin loads: Node's own start-up on a loaded machine. */
const START_MS = 30_000;

export type FullOptions = ReturnType<typeof withDefaults>;

export function withDefaults(o: PluginOptions) {
  return {
    ...o,
    memoryLimitMb: o.memoryLimitMb ?? 32,
    cpuLimitMs: o.cpuLimitMs ?? 50,
    timeoutMs: o.timeoutMs ?? 500,
    loadTimeoutMs: o.loadTimeoutMs ?? 1000,
    graceMs: o.graceMs ?? 1000,
    startMs: START_MS,
    quarantine: o.quarantine ?? { failures: 5, windowMs: 60_000 },
    logLinesPerCall: o.logLinesPerCall ?? 20,
    logLinesPerSecond: o.logLinesPerSecond ?? 100,
    logger: o.logger ?? silent,
  };
}

export function sandboxSettings(o: FullOptions): SandboxSettings {
  return {
    memoryLimitMb: o.memoryLimitMb, cpuLimitMs: o.cpuLimitMs, timeoutMs: o.timeoutMs, loadTimeoutMs: o.loadTimeoutMs,
    logLinesPerCall: o.logLinesPerCall, maxResultChars: MAX_RESULT_CHARS, config: o.config ?? {},
  };
}
