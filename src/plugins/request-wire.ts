/**
 * The views as they cross into a plugin isolate: strings, never objects. isolated-vm copies an
 * object argument through V8's serializer on both sides and parses the copy options of every
 * call (together ~60% of a call's instructions, measured with callgrind); a string argument is
 * one memory copy and needs no options. The isolate-side shim (`viewFor` in isolate-shims.ts)
 * gives hooks the same data, built from the string as far as they read it.
 *
 * A request is '\n'-separated: id, mode, method, url, host, path, query, client ip, client port,
 * client user, tls sni, tls version, route, then header name/value pairs. A field that may be
 * null is '' for null and '=' + value otherwise. Fields of a parsed request cannot hold a '\n'
 * (the HTTP parser rejects control characters), but a user name, an SNI name, a route name from
 * the config or a harness fixture might: such a view, and every response view, is sent as
 * JSON behind a NUL, which no request id starts with.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderView, RequestView, ResponseView } from './plugin-types.js';
import { headerValue, headerView } from './request-view.js';

/** The request fields besides the headers. */
export type RequestFields = Omit<RequestView, 'headers'>;

const NL = '\n';
const JSON_MARK = '\u0000';
const nullable = (v: string | null): string => (v === null ? '' : `=${v}`);
const unsafe = (v: string | null): boolean => v !== null && v.includes(NL);

function asJson(f: RequestFields, headers: IncomingHttpHeaders | HeaderView): string {
  return JSON_MARK + JSON.stringify({ ...f, headers: headerView(headers) });
}

/**
 * `headers`: Node's parsed request headers (lower-case names) or a RequestView's. `parsed`: the
 * fields and headers come from Node's HTTP parser, so only the user, SNI and route need a look.
 */
export function encodeRequest(f: RequestFields, headers: IncomingHttpHeaders | HeaderView, parsed = false): string {
  const sni = f.tls === null ? null : f.tls.sni;
  const version = f.tls === null ? null : f.tls.version;
  if (unsafe(f.client.user) || unsafe(sni) || unsafe(f.route)) return asJson(f, headers);
  if (!parsed && (unsafe(f.id) || f.id.charCodeAt(0) === 0 || unsafe(f.mode) || unsafe(f.method) || unsafe(f.url)
    || unsafe(f.host) || unsafe(f.path) || unsafe(f.query) || unsafe(f.client.ip) || unsafe(version))) return asJson(f, headers);
  let s = f.id + NL + f.mode + NL + f.method + NL + f.url + NL + f.host + NL + f.path + NL + f.query + NL + f.client.ip
    + NL + f.client.port + NL + nullable(f.client.user) + NL + nullable(sni) + NL + nullable(version) + NL + nullable(f.route);
  for (const name in headers) {
    const raw = headers[name];
    if (raw === undefined) continue;
    const value = headerValue(name, raw);
    if (!parsed && (value.includes(NL) || name.includes(NL))) return asJson(f, headers);
    s += NL + name + NL + value;
  }
  return s;
}

export function encodeRequestView(v: RequestView): string {
  return encodeRequest(v, v.headers);
}

export function encodeResponseView(v: ResponseView): string {
  return JSON_MARK + JSON.stringify(v);
}
