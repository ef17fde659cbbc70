/**
 * HTTP/2 requests and responses (node's compatibility objects) made to behave as node:http's for the
 * stages. The request: an HTTP/2 request seen as the HTTP/1.1 request every stage expects (RFC 9113 §8.3, and §8.2.2 for
 * what must be refused): pseudo-header fields removed, `:authority` becomes Host, `cookie` crumbs are
 * joined into one field (§8.2.3; an HTTP/1.1 upstream takes one Cookie line). A request HTTP/2 calls
 * malformed is refused with a stream error (RST_STREAM PROTOCOL_ERROR) and never reaches a stage.
 * nghttp2 already refuses most of these before we see them; the checks here hold whatever it lets by.
 */
import { constants, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Fields that belong to an HTTP/1.1 connection: their presence makes an HTTP/2 request malformed. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

const PSEUDO_REQUEST = new Set([':method', ':scheme', ':authority', ':path']);

export interface H2RequestView {
  /** Lower-case names; one Host, one Cookie. */
  readonly headers: Record<string, string | string[]>;
  readonly rawHeaders: string[];
}

/** The HTTP/1.1 view of an HTTP/2 request's header list, or why the request is malformed. */
export function h2RequestView(rawHeaders: readonly string[]): H2RequestView | string {
  const raw: string[] = [];
  const headers: Record<string, string | string[]> = {};
  let authority: string | undefined;
  let host: string | undefined;
  let method: string | undefined;
  let path: string | undefined;
  const cookies: string[] = [];
  const seenPseudo = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (!PSEUDO_REQUEST.has(name)) return `pseudo-header ${name} is not allowed in a request`;
      if (seenPseudo.has(name)) return `pseudo-header ${name} repeated`;
      seenPseudo.add(name);
      if (name === ':authority') authority = value;
      else if (name === ':method') method = value;
      else if (name === ':path') path = value;
      continue;
    }
    if (name !== name.toLowerCase()) return `upper-case field name ${name}`;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') return 'te other than "trailers"';
    if (name === 'cookie') { cookies.push(value); continue; }
    if (name === 'host') {
      if (host !== undefined) return 'more than one host field';
      host = value;
      continue;
    }
    raw.push(name, value);
    const prior = headers[name];
    headers[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : name === 'set-cookie' ? [prior, value] : `${prior}, ${value}`;
  }
  if (method === undefined) return 'missing :method';
  if (method !== 'CONNECT' && (path === undefined || path === '' || !seenPseudo.has(':scheme'))) return 'missing :path or :scheme';
  // RFC 9113 §8.3.1: :authority wins; a Host that says otherwise is a routing ambiguity between hops
  if (authority !== undefined && host !== undefined && host !== authority) return 'host differs from :authority';
  const target = authority ?? host;
  if (target === undefined || target === '') return 'missing :authority and host';
  raw.unshift('host', target);
  headers.host = target;
  if (cookies.length) {
    const cookie = cookies.join('; ');
    raw.push('cookie', cookie);
    headers.cookie = cookie;
  }
  return { headers, rawHeaders: raw };
}

/**
 * Gives an HTTP/2 request (node's compatibility object) its HTTP/1.1 view in place, so every stage reads
 * `headers`, `rawHeaders` and `url` as on HTTP/1.1. Returns the reason when the request is malformed.
 */
export function adoptH2Request(req: Http2ServerRequest): IncomingMessage | string {
  const view = h2RequestView(req.rawHeaders);
  if (typeof view === 'string') return view;
  // node's compatibility request has getters only; stages (absolute-form Host, plugins) write these
  Object.defineProperty(req, 'headers', { value: view.headers, writable: true, configurable: true });
  Object.defineProperty(req, 'rawHeaders', { value: view.rawHeaders, writable: true, configurable: true });
  return req as unknown as IncomingMessage;
}

/**
 * node's compatibility response says `writableFinished` once its stream closed, even when the client
 * reset it, and has no `destroyed`: stages use both to tell a client that left from a response done.
 */
export function adoptH2Response(res: Http2ServerResponse): ServerResponse {
  const stream = res.stream;
  Object.defineProperty(res, 'destroyed', { get: () => stream.destroyed, configurable: true });
  Object.defineProperty(res, 'writableFinished', {
    get: () => res.writableEnded && stream.destroyed && stream.rstCode === constants.NGHTTP2_NO_ERROR,
    configurable: true,
  });
  return res as unknown as ServerResponse;
}
