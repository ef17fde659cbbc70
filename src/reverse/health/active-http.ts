import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { parseExpectStatus, type ExpectStatus } from './status-matcher.js';
import { PeriodicChecker, type Probe, type ProbeResult } from './periodic-checker.js';

/** Config `pools.*.health` when `path` is set (durations already in ms). */
export interface ActiveHttpOptions {
  /** Request path, e.g. `/health`. */
  readonly path: string;
  /** Between checks, ms. */
  readonly interval: number;
  /** Per check, connect to end of body, ms. */
  readonly timeout: number;
  /** Statuses that pass: `[200]`, `["200-399"]`, `["2xx"]`. Default 200-399. */
  readonly expect_status?: readonly ExpectStatus[];
  /** Substring the body must contain (first 64 KB). Default: body not read. */
  readonly expect_body?: string;
  /** Host header. Default: the upstream's host:port. */
  readonly host?: string;
  /** Verify the certificate of an https upstream. Default true. */
  readonly tls_verify?: boolean;
  /** TLS options of https checks (the pool's: CA, SNI name, client certificate). */
  readonly tls?: import('node:tls').ConnectionOptions;
  readonly jitter?: number;
  readonly random?: () => number;
}

const MAX_BODY = 64 * 1024;

/** GETs `path` on each upstream every `interval` (± jitter); passes on an expected status and body. */
export class ActiveHttpChecker extends PeriodicChecker {
  constructor(opts: ActiveHttpOptions) {
    super(httpProbe(opts), { intervalMs: opts.interval, timeoutMs: opts.timeout, jitter: opts.jitter, random: opts.random });
  }
}

/** The probe behind ActiveHttpChecker: one GET with its own connection (agent: false), so a check never waits on a pooled socket. */
function httpProbe(opts: ActiveHttpOptions): Probe {
  const statusOk = parseExpectStatus(opts.expect_status);
  const expectBody = opts.expect_body || undefined;
  return (target, signal, timeoutMs) =>
    new Promise<ProbeResult>((resolve) => {
      let done = false;
      const finish = (r: ProbeResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        req.destroy();
        resolve(r);
      };
      const secure = target.protocol === 'https:';
      const request = secure ? https.request : http.request;
      const hostname = target.hostname.replace(/^\[|\]$/g, '');
      const req = request({
        hostname,
        port: target.port || (secure ? 443 : 80),
        path: opts.path,
        method: 'GET',
        agent: false,
        headers: { host: opts.host ?? target.host, 'user-agent': 'gatehouse-health/1', accept: '*/*', connection: 'close' },
        ...(secure ? { servername: sniName(opts.host, hostname), rejectUnauthorized: opts.tls_verify ?? true, ...opts.tls } : {}),
      });
      // one deadline for connect, headers and body: a server that trickles its body still fails
      const timer = setTimeout(() => finish({ ok: false, reason: `timeout after ${timeoutMs}ms` }), timeoutMs);
      const onAbort = () => finish({ ok: false, reason: 'stopped' });
      signal.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: err.code ?? err.message }));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (!statusOk(status)) return finish({ ok: false, reason: `status ${status}` });
        if (!expectBody) return finish({ ok: true, reason: `status ${status}` });
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (body.includes(expectBody)) finish({ ok: true, reason: `status ${status}, body matched` });
          else if (body.length > MAX_BODY) finish({ ok: false, reason: 'body mismatch' });
        });
        res.on('end', () => finish({ ok: false, reason: 'body mismatch' }));
        res.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, reason: err.code ?? err.message }));
      });
      req.end();
    });
}

// SNI carries a DNS name only (RFC 6066 §3): none for IP literals
function sniName(host: string | undefined, hostname: string): string | undefined {
  const name = host ? host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') : hostname;
  return isIP(name) ? undefined : name;
}
