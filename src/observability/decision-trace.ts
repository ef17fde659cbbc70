/**
 * The decision trace of one request: why it went where it went. Stages add a step for each decision they
 * take (`ctx.trace?.step(…)`): the optional chaining means nothing is built when nobody asked for a trace.
 */

export interface TraceStep {
  /** What decided: route, auth, acl, block, ssrf, plugins, balancer, sticky, retry, cache, upstream, error. */
  readonly step: string;
  /** Microseconds since the request started. */
  readonly at_us: number;
  [field: string]: unknown;
}

export interface TraceRecord {
  id: string;
  listener: string;
  method: string;
  url: string;
  client: string;
  status?: number;
  total_us?: number;
  steps: TraceStep[];
}

const us = (sinceMs: number) => Math.round((performance.now() - sinceMs) * 1000);

export class DecisionTrace {
  readonly steps: TraceStep[] = [];
  status?: number;
  totalUs?: number;
  /** Set once the access-log fields (cache outcome, plugin) were copied in (core/trace-stage.ts). */
  logFieldsNoted = false;

  constructor(readonly id: string, readonly startMs: number, readonly head: { listener: string; method: string; url: string; client: string }) {}

  /** Records a decision; returns the step so a stage can complete it later (timings). */
  step(step: string, fields?: Record<string, unknown>): TraceStep {
    // the stage's own literal becomes the step (no copy): `step` and `at_us` are added to it
    const s = (fields ?? {}) as { step: string; at_us: number };
    s.step = step;
    s.at_us = us(this.startMs);
    this.steps.push(s);
    return s;
  }

  /** Microseconds since `t0` (a performance.now() reading), for the durations stages record. */
  static since(t0: number): number { return us(t0); }

  toJSON(): TraceRecord {
    // `step` and `at_us` first, for people reading it (they were added last, see step())
    const steps = this.steps.map(({ step, at_us, ...rest }) => ({ step, at_us, ...rest }));
    return { id: this.id, ...this.head, status: this.status, total_us: this.totalUs, steps };
  }

  /** The record as one header value: compact JSON, non-ASCII escaped (a field value must be visible ASCII). */
  headerValue(): string {
    return JSON.stringify(this.toJSON()).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
}
