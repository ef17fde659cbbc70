/**
 * Runs onResponse hooks on the response head, in reverse config order (encoder filters, as Envoy),
 * and applies their decisions to the flat header list. A fail_closed failure replaces the response
 * with the proxy's 503; the upstream body that follows is discarded.
 */
import type { RequestContext } from '../core/context.js';
import { errorResponseParts } from '../core/error-response.js';
import { ProxyError } from '../core/errors.js';
import { PassThroughSink, type ResponseSink } from '../core/response-sink.js';
import type { Plugin } from './plugin.js';
import { traceCall } from './plugin-trace.js';
import type { HeaderValue, RequestView, ResponseDecision, ResponseView } from './plugin-types.js';

/** Flat `[name, value, …]` → response view; `set-cookie` stays a list. */
function viewOfFlat(status: number, flat: readonly string[]): ResponseView {
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const value = flat[i + 1]!;
    const prior = headers[name];
    if (name === 'set-cookie') headers[name] = prior === undefined ? [value] : [...(prior as string[]), value];
    else headers[name] = prior === undefined ? value : `${prior as string}, ${value}`;
  }
  return { status, headers };
}

/** Appends `name: value` lines (one per value of a list). */
export function pushHeader(flat: string[], name: string, value: HeaderValue): void {
  if (Array.isArray(value)) for (const v of value) flat.push(name, v);
  else flat.push(name, value);
}

function withoutNames(flat: readonly string[], names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (!names.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  return out;
}

/** Applies a validated onResponse decision to the head and to the view later hooks see. */
function apply(d: NonNullable<ResponseDecision>, head: { status: number; flat: string[] }, view: ResponseView): void {
  if (d.status !== undefined) head.status = view.status = d.status;
  const drop = new Set(d.remove_headers);
  if (d.set_headers) for (const name of Object.keys(d.set_headers)) drop.add(name);
  if (drop.size) head.flat = withoutNames(head.flat, drop);
  for (const name of d.remove_headers ?? []) delete view.headers[name];
  for (const [name, value] of Object.entries(d.set_headers ?? {})) {
    pushHeader(head.flat, name, value);
    view.headers[name] = name === 'set-cookie' ? ([] as string[]).concat(value) : Array.isArray(value) ? value.join(', ') : value;
  }
}

/**
 * Runs the onResponse hooks on the response head before it goes on. The hooks answer from the
 * plugin process, so body chunks that arrive meanwhile wait here (the producer is told to wait
 * for drain) and follow the head once it is decided.
 */
export class PluginResponseSink extends PassThroughSink {
  #replaced = false;
  /** While the hooks run: what arrived after the head, in order. */
  #held: { chunks: Buffer[]; ended: boolean; aborted?: Error; resume?: () => void } | null = null;

  /** `entered()`: how many plugins (from the first) took part in the request; only their onResponse runs. */
  constructor(
    next: ResponseSink,
    private readonly ctx: RequestContext,
    /** The request's view, with the onRequest rewrites. */
    private readonly request: RequestView,
    private readonly plugins: readonly Plugin[],
    private readonly entered: () => number,
    private readonly failed: (ctx: RequestContext, plugin: Plugin, hook: 'onResponse', error: { kind: string; message: string }, onError: string) => ProxyError | undefined,
  ) {
    super(next);
  }

  override head(status: number, headers: string[]): void {
    const entered = this.entered();
    let hooked = false;
    for (let i = 0; i < entered && !hooked; i++) hooked = this.plugins[i]!.has('onResponse');
    if (!hooked) { this.next.head(status, headers); return; }
    this.#held = { chunks: [], ended: false };
    void this.#decide(entered, { status, flat: headers }).then(() => this.#release());
  }

  override data(chunk: Buffer): boolean {
    if (this.#replaced) return true;
    if (this.#held) { this.#held.chunks.push(chunk); return false; }
    return this.next.data(chunk);
  }

  override onDrain(resume: () => void): void {
    if (this.#held) this.#held.resume = resume;
    else this.next.onDrain(resume);
  }

  override end(): void {
    if (this.#held) this.#held.ended = true;
    else if (!this.#replaced) this.next.end();
  }

  override abort(err: Error): void {
    if (this.#held) this.#held.aborted = err;
    else if (!this.#replaced) this.next.abort(err);
  }

  /** The onResponse hooks of the first `entered` plugins, in reverse config order (as Envoy's encoder filters). */
  async #decide(entered: number, head: { status: number; flat: string[] }): Promise<void> {
    const view = viewOfFlat(head.status, head.flat);
    for (let i = entered - 1; i >= 0; i--) {
      const plugin = this.plugins[i]!;
      if (!plugin.has('onResponse')) continue;
      const t0 = this.ctx.trace ? performance.now() : 0;
      const r = await plugin.onResponse(view, this.request);
      if (this.ctx.trace) traceCall(this.ctx, plugin, 'onResponse', r, t0);
      if (!r.ok) {
        const err = this.failed(this.ctx, plugin, 'onResponse', r.error, r.onError);
        if (err) { this.#replace(err); return; }
        continue;
      }
      if (r.decision) apply(r.decision, head, view);
    }
    this.next.head(head.status, head.flat);
  }

  /** The head went on (or was replaced): what arrived meanwhile follows it. */
  #release(): void {
    const held = this.#held!;
    this.#held = null;
    if (held.aborted) { this.abort(held.aborted); return; }
    let ready = true;
    for (const chunk of held.chunks) ready = this.data(chunk);
    if (held.ended) { this.end(); return; }
    if (held.resume) {
      if (ready) held.resume();
      else this.next.onDrain(held.resume);
    }
  }

  #replace(err: ProxyError): void {
    this.#replaced = true;
    this.ctx.error = err;
    const { headers, body } = errorResponseParts(err, this.ctx.id, { accept: this.ctx.req.headers.accept, nodeId: this.ctx.listener.nodeId });
    this.next.head(err.status, headers);
    if (this.ctx.req.method !== 'HEAD') this.next.data(body);
    this.next.end();
  }
}
