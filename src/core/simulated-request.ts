/**
 * A request that never arrived: what the simulator (POST /simulate, `gatehouse simulate`) runs through a
 * listener's stages. A real IncomingMessage (no body) and a ServerResponse on no socket, so every stage
 * reads and answers it as usual; what it answers is only remembered.
 */
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { isIP } from 'node:net';

export interface SimulationInput {
  /** Listener name (`reverse[0]`, `forward[0]`); default the first HTTP listener. */
  listener?: string;
  /** Client address; default 127.0.0.1. */
  src?: string;
  /** Forward listeners: take this user as authenticated (no password is checked). */
  user?: string;
  method?: string;
  /** Absolute URL: reverse listeners route on its host and path; forward listeners get it as the target. */
  url: string;
  headers?: Record<string, string>;
}

/** Checks the JSON of a simulation; throws a clear error naming the field. */
export function simulationInput(body: unknown): SimulationInput {
  const b = (body ?? {}) as Record<string, unknown>;
  const str = (k: string, optional = true) => {
    const v = b[k];
    if (v === undefined && optional) return undefined;
    if (typeof v !== 'string' || v === '') throw new Error(`${k}: must be a non-empty string`);
    return v;
  };
  const url = str('url', false)!;
  if (!/^https?:\/\/[^/]/i.test(url)) throw new Error('url: must be an absolute http:// or https:// URL');
  const src = str('src');
  if (src !== undefined && !isIP(src)) throw new Error('src: must be an IP address');
  const method = str('method');
  if (method !== undefined && !/^[A-Z]+$/.test(method)) throw new Error('method: must be an upper-case method name');
  const headers = b.headers;
  if (headers !== undefined && (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string'))) {
    throw new Error('headers: must be an object of string values');
  }
  return { listener: str('listener'), src, user: str('user'), method, url, headers: headers as Record<string, string> | undefined };
}

/** The request and its response; `target` is what goes on the request line (absolute-form for forward listeners). */
export function simulatedExchange(input: SimulationInput, absoluteForm: boolean): { req: IncomingMessage; res: ServerResponse } {
  const url = new URL(input.url);
  const req = new IncomingMessage(new Socket());
  req.method = input.method ?? 'GET';
  req.url = absoluteForm ? url.href : `${url.pathname}${url.search}`;
  req.httpVersion = '1.1';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  const headers: Record<string, string> = { host: url.host, ...Object.fromEntries(Object.entries(input.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])) };
  for (const [k, v] of Object.entries(headers)) { req.headers[k] = v; req.rawHeaders.push(k, v); }
  req.complete = true;
  req.push(null);
  const res = new ServerResponse(req);
  return { req, res };
}
