/**
 * The admin API of a cluster primary: every call is answered by the workers over IPC. Status and metrics are
 * gathered from all of them and merged; pool and cache changes are applied by all of them and their answers
 * folded into one (first error wins, purge counts summed).
 */
import client from 'prom-client';
import type { AdminReply, AdminTarget, FanOutMethod } from '../admin/admin-target.js';
import type { CallResult } from './ipc.js';
import type { Supervisor } from './supervisor.js';
import { mergeStatus } from './status-merge.js';

const READ_TIMEOUT_MS = 5_000;
/** A drain waits for the upstream's in-flight requests to finish. */
const CHANGE_TIMEOUT_MS = 60_000;

export class ClusterAdminTarget implements AdminTarget {
  readonly #supervisor: Supervisor;
  readonly #reload: () => Promise<AdminReply>;
  readonly #startedAt = Date.now();
  /** The primary's own metrics, merged into the workers'. */
  readonly #registry = new client.Registry();

  constructor(supervisor: Supervisor, reload: () => Promise<AdminReply>) {
    this.#supervisor = supervisor;
    this.#reload = reload;
    new client.Gauge({
      name: 'gatehouse_cluster_workers', help: 'Worker processes answering the primary.', registers: [this.#registry],
      collect() { this.set(supervisor.running.length); },
    });
    new client.Gauge({
      name: 'gatehouse_cluster_worker_restarts', help: 'Workers replaced after dying since the primary started.', registers: [this.#registry],
      collect() { this.set(supervisor.restarts); },
    });
  }

  async status(): Promise<unknown> {
    const results = await this.#supervisor.broadcast({ op: 'status' }, READ_TIMEOUT_MS);
    const answered = results.filter((r) => r.ok).map((r) => r.value);
    return {
      node_id: this.#supervisor.config.node_id,
      uptime_s: Math.round((Date.now() - this.#startedAt) / 1000),
      workers_configured: this.#supervisor.count,
      workers_running: results.length,
      summary: { ...(mergeStatus(answered) as object), uptime_s: undefined, node_id: undefined },
      workers: results.map((r) => ({ worker: r.worker.id, pid: r.worker.process.pid, ...(r.ok ? (r.value as object) : { error: r.error }) })),
    };
  }

  /** Sums counters across workers with prom-client's aggregator (each metric's `aggregator`, default sum). */
  async metrics(): Promise<{ contentType: string; text: string }> {
    const results = await this.#supervisor.broadcast({ op: 'metrics' }, READ_TIMEOUT_MS);
    const perWorker = results.filter((r) => r.ok).map((r) => r.value as object[]);
    const merged = client.Registry.merge([client.AggregatorRegistry.aggregate(perWorker), this.#registry]);
    return { contentType: merged.contentType, text: await merged.metrics() };
  }

  reload(): Promise<AdminReply> { return this.#reload(); }
  addUpstream(pool: string, body: unknown): Promise<AdminReply> { return this.#fanOut('addUpstream', [pool, body]); }
  drainUpstream(pool: string, url: string | null): Promise<AdminReply> { return this.#fanOut('drainUpstream', [pool, url]); }
  patchUpstream(pool: string, url: string | null, body: unknown): Promise<AdminReply> { return this.#fanOut('patchUpstream', [pool, url, body]); }
  purge(body: unknown): Promise<AdminReply> { return this.#fanOut('purge', [body]); }

  /** One worker answers: they all run the same config (a read, never replayed). */
  async simulate(body: unknown): Promise<AdminReply> {
    const worker = this.#supervisor.running[0];
    if (!worker) return [503, { error: 'no worker is running' }];
    return toReply(await this.#supervisor.call(worker, { op: 'admin', change: { method: 'simulate', args: [body] } }, READ_TIMEOUT_MS));
  }

  /** Asks every worker (a request was served by one of them); a read, so never recorded for replay. */
  async trace(id: string): Promise<AdminReply> {
    const results = await this.#supervisor.broadcast({ op: 'admin', change: { method: 'trace', args: [id] } }, READ_TIMEOUT_MS);
    const replies = results.map(toReply);
    return replies.find(([status]) => status === 200) ?? replies[0] ?? [503, { error: 'no worker is running' }];
  }

  #fanOut(method: FanOutMethod, args: unknown[]): Promise<AdminReply> {
    return this.#supervisor.exclusive(async () => {
      const results = await this.#supervisor.broadcast({ op: 'admin', change: { method, args } }, CHANGE_TIMEOUT_MS);
      if (!results.length) return [503, { error: 'no worker is running' }] as AdminReply;
      const replies = results.map(toReply);
      // A change any worker applied is replayed to workers started later (a purge has nothing to replay: new caches are empty).
      if (method !== 'purge' && replies.some(([status]) => status < 300)) this.#supervisor.record({ method, args });
      return foldReplies(method, replies);
    });
  }
}

function toReply(r: CallResult): AdminReply {
  return r.ok ? (r.value as AdminReply) : [502, { error: r.error }];
}

/**
 * One answer from the workers' answers to a change. Purge counts add up. Otherwise a change any worker
 * applied is the answer: with shared state, the fleet may bring the change to a worker before the
 * primary's call does, and that worker then answers 409 (already there) or 404 (already gone). When
 * no worker applied it, they all refused it for the same reason: the first refusal is the answer.
 */
export function foldReplies(method: FanOutMethod, replies: AdminReply[]): AdminReply {
  if (method === 'purge') {
    const failed = replies.find(([status]) => status >= 400);
    if (failed) return failed;
    const purged = replies.reduce((n, [, body]) => n + ((body as { purged?: number }).purged ?? 0), 0);
    return [200, { purged }];
  }
  return replies.find(([status]) => status < 300) ?? replies[0]!;
}
