/**
 * The messages between the proxy and a plugin process (Node's IPC channel, JSON). One process runs
 * one plugin; the proxy sends hook calls in batches and the process answers them in order.
 */
import type { HookName } from '../plugin-types.js';

/** Limits the plugin process applies itself. */
export interface SandboxSettings {
  /** Heap limit of the isolate, MB. */
  memoryLimitMb: number;
  /** CPU time one hook call may use, ms. */
  cpuLimitMs: number;
  /** Wall time after which a running hook call is stopped, ms. */
  timeoutMs: number;
  /** Wall time for the module's top level, ms. */
  loadTimeoutMs: number;
  /** Log lines one call may emit before the rest are dropped. */
  logLinesPerCall: number;
  /** Characters of JSON a decision may have. */
  maxResultChars: number;
  /** The plugin's `options` from its config entry, as `ctx.config`. */
  config: unknown;
}

/** What a call of a hook ended as, inside the plugin process. */
export type AnswerKind = 'ok' | 'throw' | 'malformed' | 'timeout' | 'oom' | 'crashed';

/** One call: its id, its hook, and its views (onResponse: the response view, then the request's). */
export type CallMessage = [id: number, hook: HookName, ...views: unknown[]];

/** One answer: for `ok` the decision (null: none), otherwise the failure's message. */
export type AnswerMessage = [id: number, kind: AnswerKind, value: unknown];

export type ToSandbox =
  | { t: 'load'; code: string; file: string; settings: SandboxSettings }
  | { t: 'calls'; calls: CallMessage[] };

export type FromSandbox =
  | { t: 'ready' }
  | { t: 'loaded'; hooks: HookName[] }
  | { t: 'load_failed'; message: string; line?: number; column?: number }
  | {
    t: 'answers'; answers: AnswerMessage[];
    /** Log lines emitted by the calls answered, in order. */
    logs?: [level: 'info' | 'warn' | 'error', text: string][];
    /** Log lines dropped (over the per-call budget). */
    dropped?: number;
    /** Isolate heap in bytes, sent now and then. */
    heap?: number;
  };
