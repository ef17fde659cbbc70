/**
 * Who gets a decision trace, and where it goes: the trusted clients that ask (`trace.allow` and
 * `X-Gatehouse-Trace: 1`) get it in a response header; the last `trace.keep` traces stay for the admin
 * API; `log.trace` puts it in the access line. With none of these, no trace is ever built.
 */
import { cidrMatcher } from '../core/cidr.js';
import type { DecisionTrace, TraceRecord } from './decision-trace.js';

export interface TraceSettings { allow: readonly string[]; keep: number; log: boolean }

export class TraceRecorder {
  #allowed: (ip: string) => boolean = () => false;
  #anyAllowed = false;
  #keep = 0;
  #log = false;
  /** Insertion-ordered: the oldest trace is the first key. */
  readonly #kept = new Map<string, DecisionTrace>();

  constructor(settings: TraceSettings) { this.configure(settings); }

  configure(s: TraceSettings): void {
    this.#allowed = cidrMatcher(s.allow);
    this.#anyAllowed = s.allow.length > 0;
    this.#keep = s.keep;
    this.#log = s.log;
    while (this.#kept.size > this.#keep) this.#kept.delete(this.#kept.keys().next().value!);
  }

  /** Whether any request may need a trace (else listeners leave the trace stage out). */
  get active(): boolean { return this.#anyAllowed || this.#keep > 0 || this.#log; }
  /** Whether every request is traced (kept or logged), asked or not. */
  get always(): boolean { return this.#keep > 0 || this.#log; }
  get logs(): boolean { return this.#log; }

  /** Whether this client may see its trace (it asked with `X-Gatehouse-Trace: 1`). */
  mayShow(clientIp: string, asked: string | string[] | undefined): boolean {
    return asked === '1' && this.#anyAllowed && this.#allowed(clientIp);
  }

  keep(trace: DecisionTrace): void {
    if (this.#keep === 0) return;
    // a repeated X-Request-Id replaces the older trace and becomes the newest
    this.#kept.delete(trace.id);
    this.#kept.set(trace.id, trace); // made into JSON only when asked for
    if (this.#kept.size > this.#keep) this.#kept.delete(this.#kept.keys().next().value!);
  }

  find(id: string): TraceRecord | undefined { return this.#kept.get(id)?.toJSON(); }
}
