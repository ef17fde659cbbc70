/**
 * What the admin API acts on. One process: the local Gateway (gateway-target.ts). Cluster: a fan-out over
 * IPC to every worker (cluster/cluster-target.ts). The HTTP surface (admin-server.ts) is the same for both.
 */

/** An admin answer: HTTP status and the JSON body. */
export type AdminReply = [status: number, payload: unknown];

export interface AdminTarget {
  /** The JSON of GET /status. */
  status(): Promise<unknown>;
  /** The Prometheus exposition of GET /metrics. */
  metrics(): Promise<{ contentType: string; text: string }>;
  /** POST /reload: re-reads the config source; 422 with the problems when refused. */
  reload(): Promise<AdminReply>;
  /** POST /pools/NAME/upstreams {url, weight}. */
  addUpstream(pool: string, body: unknown): Promise<AdminReply>;
  /** DELETE /pools/NAME/upstreams?url=URL: drains, then removes. */
  drainUpstream(pool: string, url: string | null): Promise<AdminReply>;
  /** PATCH /pools/NAME/upstreams?url=URL {weight}. */
  patchUpstream(pool: string, url: string | null, body: unknown): Promise<AdminReply>;
  /** POST /cache/purge {url} or {prefix}. */
  purge(body: unknown): Promise<AdminReply>;
  /** GET /trace/REQUEST_ID: a kept decision trace (404 when not, or no longer, kept). */
  trace(id: string): Promise<AdminReply>;
  /** POST /simulate {listener, src, user?, method, url, headers}: what the proxy would do, doing nothing. */
  simulate(body: unknown): Promise<AdminReply>;
}

/** The AdminTarget calls a cluster worker answers on a primary's behalf (the ones that mutate pools or the cache). */
export type FanOutMethod = 'addUpstream' | 'drainUpstream' | 'patchUpstream' | 'purge' | 'trace' | 'simulate';
