/** Prometheus metrics (prom-client). Labelled children are cached so a request costs two map lookups. */
import client from 'prom-client';
import { FastCounter, FastHistogram, type CounterChild, type HistogramChild } from './fast-metrics.js';

interface RecentError { at: string; listener: string; req_id: string; method: string; path: string; status: number; error: string; detail: string }
const RECENT_ERRORS = 20;

export class Metrics {
  readonly registry = new client.Registry();
  readonly requests = new FastCounter('gatehouse_requests_total', 'Requests answered, by listener, route and status code.',
    ['listener', 'route', 'code'], this.registry);
  readonly duration = new FastHistogram('gatehouse_request_duration_seconds', 'Time from request to the end of the response.',
    ['listener', 'route'], this.registry, [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  readonly upstreamHealthy = new client.Gauge({
    name: 'gatehouse_upstream_healthy', help: '1 when the upstream is available to balancers.',
    labelNames: ['pool', 'upstream'] as const, registers: [this.registry],
    // Cluster: each worker checks health itself; 1 only when every worker sees the upstream available.
    aggregator: 'min',
  });
  readonly upstreamActive = new client.Gauge({
    name: 'gatehouse_upstream_active_connections', help: 'Requests in flight per upstream.',
    labelNames: ['pool', 'upstream'] as const, registers: [this.registry],
  });
  readonly healthTransitions = new client.Counter({
    name: 'gatehouse_health_transitions_total', help: 'Upstream health state changes.',
    labelNames: ['pool', 'upstream', 'to'] as const, registers: [this.registry],
  });
  readonly retries = new client.Counter({
    name: 'gatehouse_retries_total', help: 'Requests retried on another upstream.',
    labelNames: ['pool'] as const, registers: [this.registry],
  });
  readonly routeFallbacks = new client.Counter({
    name: 'gatehouse_plugin_route_fallbacks_total',
    help: 'Requests a routing plugin failed to route, sent to the route\'s own pool instead (reason: unknown_pool, unknown_upstream, or the failure kind).',
    labelNames: ['plugin', 'reason'] as const, registers: [this.registry],
  });
  readonly authFailures = new client.Counter({
    name: 'gatehouse_auth_failures_total', help: 'Failed proxy authentications.',
    labelNames: ['listener'] as const, registers: [this.registry],
  });
  readonly cacheLookups = new FastCounter('gatehouse_cache_lookups_total', 'Cache lookups by outcome: hit, collapsed, uri-miss, vary-miss, stale, request, method, bypass.',
    ['result'], this.registry);
  /** Reads the cache's size when /metrics is scraped (set by the gateway). */
  #cacheStats?: () => { entries: number; bytes: number };
  readonly cacheBytes = new client.Gauge({
    name: 'gatehouse_cache_bytes', help: 'Bytes held by the cache (bodies, headers, overhead).', registers: [this.registry],
    collect: () => { const s = this.#cacheStats?.(); if (s) this.cacheBytes.set(s.bytes); },
  });
  readonly cacheEntries = new client.Gauge({
    name: 'gatehouse_cache_entries', help: 'Responses (variants) held by the cache.', registers: [this.registry],
    collect: () => { const s = this.#cacheStats?.(); if (s) this.cacheEntries.set(s.entries); },
  });
  /** Reads the served certificates when /metrics is scraped (set by the gateway). */
  #certificates?: () => { listener: string; names: string; validTo: number }[];
  readonly certificateExpiry = new client.Gauge({
    name: 'gatehouse_tls_certificate_expiry_seconds', help: 'Seconds until each served certificate expires (negative: expired).',
    labelNames: ['listener', 'names'] as const, registers: [this.registry], aggregator: 'min',
    collect: () => {
      const list = this.#certificates?.();
      if (!list) return;
      this.certificateExpiry.reset();
      const now = Date.now();
      for (const c of list) this.certificateExpiry.labels(c.listener, c.names).set(Math.round((c.validTo - now) / 1000));
    },
  });
  #cacheChildren = new Map<string, CounterChild>();
  /** listener → route → children: nested maps of strings the caller already holds, so no key is built per request. */
  #requestChildren = new Map<string, Map<string, { duration: HistogramChild; codes: Map<number, CounterChild> }>>();

  watchCertificates(list: () => { listener: string; names: string; validTo: number }[]): void {
    this.#certificates = list;
  }

  constructor() {
    // The event-loop lag sampler wakes the process at this interval; 10 ms (the default) is 100 wake-ups a second.
    client.collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_process_', eventLoopMonitoringPrecision: 100 });
  }

  /** Where the cache gauges read their values. */
  watchCache(stats: () => { entries: number; bytes: number }): void { this.#cacheStats = stats; }

  /** Counts one cache lookup (children cached: this runs on every hit). */
  cacheLookup(result: string): void {
    let counter = this.#cacheChildren.get(result);
    if (!counter) this.#cacheChildren.set(result, (counter = this.cacheLookups.labels(result)));
    counter.value++;
  }

  /** The last errors the proxy answered (newest last), for the status page. */
  readonly recentErrors: RecentError[] = [];

  noteError(e: RecentError): void {
    this.recentErrors.push(e);
    if (this.recentErrors.length > RECENT_ERRORS) this.recentErrors.shift();
  }

  /** Lookups counted so far and the share answered from the cache (hits and collapsed requests). */
  cacheHitRatio(): { lookups: number; hits: number; hit_ratio: number } {
    let lookups = 0;
    let hits = 0;
    for (const [result, counter] of this.#cacheChildren) {
      lookups += counter.value;
      if (result === 'hit' || result === 'collapsed') hits += counter.value;
    }
    return { lookups, hits, hit_ratio: lookups ? Math.round((hits / lookups) * 1000) / 1000 : 0 };
  }

  /** Records one answered request. */
  observeRequest(listener: string, route: string, code: number, seconds: number): void {
    let routes = this.#requestChildren.get(listener);
    if (!routes) this.#requestChildren.set(listener, (routes = new Map()));
    let children = routes.get(route);
    if (!children) routes.set(route, (children = { duration: this.duration.labels(listener, route), codes: new Map() }));
    let counter = children.codes.get(code);
    if (!counter) children.codes.set(code, (counter = this.requests.labels(listener, route, String(code))));
    counter.value++;
    children.duration.observe(seconds);
  }
}
