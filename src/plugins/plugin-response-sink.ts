/**
 * Runs onResponse hooks on the response head, in reverse config order (encoder filters, as Envoy),
 * and applies their decisions to the flat header list. A fail_closed failure replaces the response
 * with the proxy's 503; the upstream body that follows is discarded.
 */
import type { RequestContext } from '../core/context.js';
import { errorResponseParts } from '../core/error-response.js';
import { ProxyError } from '../core/errors.js';
import { ForwardingSink, type ResponseSink } from '../core/response-sink.js';
import type { Plugin } from './plugin.js';
import type { HeaderValue, ResponseDecision, ResponseView } from './plugin-types.js';

/** Flat `[name, value, …]` → response view; `set-cookie` stays a list. */
export function viewOfFlat(status: number, flat: readonly string[]): ResponseView {
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

export class PluginResponseSink extends ForwardingSink {
  #replaced = false;

  /** `entered()`: how many plugins (from the first) took part in the request; only their onResponse runs. */
  constructor(
    next: ResponseSink,
    private readonly ctx: RequestContext,
    /** The request as encoded for plugins, after the onRequest rewrites. */
    private readonly request: () => string,
    private readonly plugins: readonly Plugin[],
    private readonly entered: () => number,
    private readonly failed: (ctx: RequestContext, plugin: Plugin, hook: 'onResponse', error: { kind: string; message: string }, onError: string) => ProxyError | undefined,
  ) {
    super(next);
  }

  override head(status: number, headers: string[]): void {
    const head = { status, flat: headers };
    let view: ResponseView | undefined;
    for (let i = this.entered() - 1; i >= 0; i--) {
      const plugin = this.plugins[i]!;
      if (!plugin.has('onResponse')) continue;
      view ??= viewOfFlat(status, headers);
      const r = plugin.onResponse(view, this.request());
      if (!r.ok) {
        const err = this.failed(this.ctx, plugin, 'onResponse', r.error, r.onError);
        if (err) return this.#replace(err);
        continue;
      }
      if (r.decision) apply(r.decision, head, view);
    }
    this.next.head(head.status, head.flat);
  }

  override data(chunk: Buffer): boolean { return this.#replaced ? true : this.next.data(chunk); }
  override end(): void { if (!this.#replaced) this.next.end(); }
  override abort(err: Error): void { if (!this.#replaced) this.next.abort(err); }

  #replace(err: ProxyError): void {
    this.#replaced = true;
    this.ctx.error = err;
    const { headers, body } = errorResponseParts(err, this.ctx.id);
    this.next.head(err.status, headers);
    if (this.ctx.req.method !== 'HEAD') this.next.data(body);
    this.next.end();
  }
}
