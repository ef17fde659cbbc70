/**
 * A counter and a histogram for the per-request hot path. prom-client validates and hashes the labels on
 * every observation, even through a labelled child; these keep one plain record per label set, made once,
 * and turn it into prom-client's metric shape only when /metrics is scraped. They register in a
 * prom-client Registry like any metric, so text output and cluster aggregation work unchanged.
 */
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;
interface MetricValue { labels: Labels; value: number; metricName?: string }

abstract class FastMetric<Child> {
  readonly #children = new Map<string, { labels: Labels; child: Child }>();
  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[], registry: Registry) {
    registry.registerMetric(this as never);
  }
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  protected abstract create(): Child;
  protected abstract export(labels: Labels, child: Child, out: MetricValue[]): void;

  /** The record for these label values; callers keep it, so this runs once per label set. */
  labels(...values: string[]): Child {
    const key = values.join('\0');
    let entry = this.#children.get(key);
    if (!entry) {
      const labels = Object.fromEntries(this.labelNames.map((n, i) => [n, values[i] ?? '']));
      this.#children.set(key, (entry = { labels, child: this.create() }));
    }
    return entry.child;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const { labels, child } of this.#children.values()) this.export(labels, child, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void { this.#children.clear(); }
}

export interface CounterChild { value: number }

export class FastCounter extends FastMetric<CounterChild> {
  readonly type = 'counter';
  protected create(): CounterChild { return { value: 0 }; }
  protected export(labels: Labels, child: CounterChild, out: MetricValue[]): void { out.push({ labels, value: child.value }); }
}

export class HistogramChild {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) { this.counts = new Array(bounds.length).fill(0); }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) if (v <= b[i]!) { this.counts[i]!++; return; }
  }
}

export class FastHistogram extends FastMetric<HistogramChild> {
  readonly type = 'histogram';
  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry, readonly bounds: readonly number[]) {
    super(name, help, labelNames, registry);
  }
  protected create(): HistogramChild { return new HistogramChild(this.bounds); }
  protected export(labels: Labels, child: HistogramChild, out: MetricValue[]): void {
    let acc = 0;
    this.bounds.forEach((le, i) => {
      acc += child.counts[i]!;
      out.push({ labels: { ...labels, le: String(le) }, value: acc, metricName: `${this.name}_bucket` });
    });
    out.push({ labels: { ...labels, le: '+Inf' }, value: child.count, metricName: `${this.name}_bucket` });
    out.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
    out.push({ labels, value: child.count, metricName: `${this.name}_count` });
  }
}
