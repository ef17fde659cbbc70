/** The one object that carries a request through the pipeline. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ProxyError } from './errors.js';
import { AccessLog } from '../observability/access-log.js';
import { ServerResponseSink, type ResponseSink } from './response-sink.js';
import type { DecisionTrace } from '../observability/decision-trace.js';

/** What a stage may know about the listener a request arrived on; built once per listener. */
export interface ListenerInfo {
  readonly name: string;
  readonly mode: 'forward' | 'reverse';
  readonly nodeId: string;
  /** The name this instance adds to Via (core/via.ts). */
  readonly viaName: string;
  /** `1.1 <via name>`, prebuilt. */
  readonly via: string;
  readonly log: Logger;
  /** Writes this listener's access-log lines (see observability/access-log.ts). */
  readonly accessLog: AccessLog;
  /** Whether a peer address is a trusted proxy (its X-Forwarded-For is believed). */
  isTrusted(ip: string): boolean;
}

export interface TlsInfo {
  readonly version: string; readonly cipher: string; readonly sni: string;
  /** The client certificate (mTLS listeners), when one was presented. */
  readonly client?: ClientCertInfo;
}
/** A client certificate: subject DN (`CN=…, O=…`), SHA-256 fingerprint, and whether it chained to `client_ca`. */
export interface ClientCertInfo { readonly subject: string; readonly fingerprint256: string; readonly verified: boolean }

/** What the access log and plugins learn about where the request went. */
export interface RouteInfo { readonly name: string; readonly cache: boolean }
export interface UpstreamInfo { readonly id: string }

/**
 * What a feature tracks per request that core has no word for (reverse: the pool and a pinned upstream;
 * forward: the authenticated user). Each feature declares its fields in its own folder by augmenting
 * this interface (see reverse/request-slots.ts, forward/request-slots.ts); core never reads them.
 * A plain object made with the context, so a slot is a field access, not a lookup.
 */
export interface RequestSlots {}

export class RequestContext {
  readonly startMs = performance.now();
  readonly sink: ResponseSink;
  /** `HTTP/1.1`, `HTTP/1.0` or `HTTP/2`: how the client spoke (access log, plugins). */
  readonly protocol: string;
  /** The innermost sink, which counts the bytes sent to the client. */
  readonly clientSink: ServerResponseSink;
  /** Request target path with query; stages may rewrite it (strip_prefix, plugins). */
  path: string;
  route?: RouteInfo;
  /** The features' own fields (RequestSlots). */
  readonly slots: RequestSlots = {};
  upstream?: UpstreamInfo;
  upstreamStatus?: number;
  upstreamMs?: number;
  /** Request headers to set or remove on the way upstream (plugins). Lower-case names. */
  setRequestHeaders?: [string, string][];
  removeRequestHeaders?: string[];
  /** Response headers added by stages (e.g. Set-Cookie of sticky sessions, HSTS). Flat list. */
  extraResponseHeaders?: string[];
  /** For upgrade requests (WebSocket…) and CONNECT: the raw client socket, bytes read past the head, and the protocol asked (lower-case; empty for CONNECT). */
  upgrade?: { socket: Socket; head: Buffer; protocol: string };
  error?: ProxyError;
  /** Status for the log when the response did not go through `res` (WebSocket 101, CONNECT tunnels). */
  finalStatus?: number;
  /** A simulation (POST /simulate): stages decide as usual but send nothing, store nothing and count nothing. */
  dryRun?: boolean;
  /** The decision trace, only when someone will read it (core/trace-stage.ts); stages add steps with `ctx.trace?.step(…)`. */
  trace?: DecisionTrace;
  /** Extra fields for the access log line (rule names, cache status, retries). */
  readonly logFields: Record<string, unknown> = {};
  #log?: Logger;

  constructor(
    readonly id: string,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly listener: ListenerInfo,
    readonly clientIp: string,
    readonly tls: TlsInfo | null,
  ) {
    this.path = req.url ?? '/';
    this.protocol = req.httpVersionMajor === 2 ? 'HTTP/2' : `HTTP/${req.httpVersion}`;
    this.sink = this.clientSink = new ServerResponseSink(res);
  }

  /** A child logger tagged with the request id, made on first use (most requests only log once). */
  get log(): Logger {
    return (this.#log ??= this.listener.log.child({ reqId: this.id }));
  }

  /** Replaces the response sink with a wrapper around it (see ResponseSink). */
  wrapSink(wrap: (inner: ResponseSink) => ResponseSink): void {
    (this as { sink: ResponseSink }).sink = wrap(this.sink);
  }

  addResponseHeader(name: string, value: string): void {
    (this.extraResponseHeaders ??= []).push(name, value);
  }
}

/** Builds a listener's info once: its logger (bound to the listener name), access log and Via value (node_id when no via name is given). */
export function listenerInfo(o: { name: string; mode: 'forward' | 'reverse'; nodeId: string; viaName?: string; log: Logger; isTrusted: (ip: string) => boolean }): ListenerInfo {
  const log = o.log.child({ listener: o.name });
  const viaName = o.viaName || o.nodeId;
  return { name: o.name, mode: o.mode, nodeId: o.nodeId, viaName, via: `1.1 ${viaName}`, log, accessLog: new AccessLog(log), isTrusted: o.isTrusted };
}
