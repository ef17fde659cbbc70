/**
 * The scripted loopback origin: answers /test/<uuid>[/file][?q] per the test's request configs (selected by
 * the Req-Num header the client sends, as the suite's server does) and records what it received.
 */
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeader, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { fixupHeader, getHeader, noBodyStatus } from './fixup.js';
import type { RequestConfig } from './suite-types.js';

export interface ServerRecord {
  request_num: number;
  request_method: string;
  request_headers: IncomingHttpHeaders;
  response_headers: [string, OutgoingHttpHeader][];
}

export class ScriptedOrigin {
  private readonly configs = new Map<string, RequestConfig[]>();
  private readonly stash = new Map<string, ServerRecord[]>();
  private server?: Server;
  port = 0;

  /** The server keeps its own copy: header fix-ups mutate it, as with the suite's PUT /config. */
  putConfig(uuid: string, requests: RequestConfig[]): void {
    this.configs.set(uuid, JSON.parse(JSON.stringify(requests)) as RequestConfig[]);
  }

  state(uuid: string): ServerRecord[] { return this.stash.get(uuid) ?? []; }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      req.resume();
      const uuid = (req.url ?? '').split('?')[0]!.split('/')[2];
      const requests = uuid ? this.configs.get(uuid) : undefined;
      if (!uuid || !requests) { res.writeHead(409); res.end(`no config for ${req.url}`); return; }
      const serverState = this.stash.get(uuid) ?? [];
      this.stash.set(uuid, serverState);
      const reqNum = parseInt(String(req.headers['req-num'])) || serverState.length + 1;
      const config = requests[reqNum - 1];
      if (!config) { res.writeHead(409); res.end(`config not found for request ${reqNum}`); return; }
      const go = () => this.answer(req, res, requests, serverState, reqNum);
      if (config.response_pause !== undefined) setTimeout(go, config.response_pause * 1000); else go();
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
  }

  private answer(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse,
    requests: RequestConfig[], serverState: ServerRecord[], reqNum: number): void {
    const config = requests[reqNum - 1]!;
    const previous = requests[reqNum - 2];
    const srvReqNum = serverState.length + 1;
    let status: [number, string] = config.response_status ?? [200, 'OK'];
    // a request expected to be validated gets 304 only if it carries the previous response's validator
    if (config.expected_type?.endsWith('validated')) {
      const lm = getHeader(previous?.response_headers, 'Last-Modified');
      if (lm && req.headers['if-modified-since'] === lm) status = [304, 'Not Modified'];
      const etag = getHeader(previous?.response_headers, 'ETag');
      if (etag && req.headers['if-none-match'] === etag) status = [304, 'Not Modified'];
      if (status[0] !== 304) status = [999, '304 Not Generated'];
    }
    res.statusCode = status[0];
    res.statusMessage = status[1];
    const saved = new Map<string, OutgoingHttpHeader>();
    res.setHeader('Server-Base-Url', req.url ?? '');
    res.setHeader('Server-Request-Count', srvReqNum);
    res.setHeader('Client-Request-Count', String(req.headers['req-num']));
    res.setHeader('Server-Now', Date.now());
    for (const spec of config.response_headers ?? []) {
      const header = fixupHeader(spec, res.getHeaders() as Record<string, unknown>, config);
      const [name, value] = [header[0], String(header[1])];
      const current = res.getHeader(name);
      if (typeof current === 'string') res.setHeader(name, [current, value]);
      else if (Array.isArray(current)) res.setHeader(name, current.concat(value));
      else res.setHeader(name, value);
      if (header.length < 3 || header[2] === true) saved.set(name, res.getHeader(name)!);
    }
    if (!res.hasHeader('content-type')) res.setHeader('Content-Type', 'text/plain');
    serverState.push({ request_num: parseInt(String(req.headers['req-num'])), request_method: req.method ?? 'GET', request_headers: req.headers, response_headers: [...saved.entries()] });
    res.setHeader('Request-Numbers', serverState.map((r) => r.request_num).join(' '));
    if (config.disconnect) { res.socket?.destroy(); return; }
    if (noBodyStatus.has(res.statusCode)) { res.end(); return; }
    res.end(config.response_body || (req.url ?? '').split('?')[0]!.split('/')[2]);
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}
