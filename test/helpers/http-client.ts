/** A plain node:http client for e2e tests: any method, any headers (fetch forbids Host, Range games, PURGE). */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Milliseconds until the response ended. */
  ms: number;
}

export function send(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const r = httpRequest(url, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

/** An HTTP date `seconds` ago. */
export const ago = (seconds: number): string => new Date(Date.now() - seconds * 1000).toUTCString();

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
