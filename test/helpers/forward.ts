/** Helpers for forward-proxy e2e tests: curl, a loopback TLS origin, scratch files, a stub resolver. */
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueLeaf, type PemPair } from '../../src/tls/dev-certs.js';
import type { LookupAll } from '../../src/forward/ssrf-guard.js';

/** Whether curl is installed (tests that need it skip with a message otherwise). */
export const hasCurl = (() => {
  try { execFileSync('curl', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

export interface CurlResult { status: number; body: string; headers: string; exitCode: number; stderr: string }

/**
 * Runs curl with `args`; `-s -i` prepended and the final response parsed. With a proxy,
 * curl prints the CONNECT response head before the origin's, so the last head is the answer.
 */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-S', '-i', '--max-time', '10', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      const exitCode = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      // skip the heads of proxy answers (CONNECT 200, 407 before a retry) and 100-continue
      let rest = stdout;
      let head = '';
      for (;;) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0 || !rest.startsWith('HTTP/')) break;
        head = rest.slice(0, end);
        rest = rest.slice(end + 4);
        if (!/^HTTP\/\S+ (1\d\d|200 Connection established)/i.test(head) || !rest.startsWith('HTTP/')) break;
      }
      const status = Number(/^HTTP\/\S+ (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, body: rest, headers: head, exitCode, stderr });
    });
  });
}

/** A scratch directory for config files (htpasswd, block lists, certificates). */
export function scratch(): { dir: string; write(name: string, text: string): string } {
  const dir = mkdtempSync(join(tmpdir(), 'gh-fwd-'));
  return { dir, write: (name, text) => { const p = join(dir, name); writeFileSync(p, text); return p; } };
}

export interface TlsOrigin { port: number; ca: PemPair; caFile: string; server: Server; close(): Promise<void> }

/** An HTTPS origin on 127.0.0.1 with a leaf for `hosts`, signed by a fresh CA (written to `caFile`). */
export async function startTlsOrigin(
  hosts: string[], handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => s.end('secret over tls'),
): Promise<TlsOrigin> {
  const ca = createCa({ commonName: 'Gatehouse Test Origin CA' });
  const leaf = issueLeaf(hosts, ca);
  const server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem }, handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const caFile = scratch().write('origin-ca.pem', ca.certPem);
  return {
    port: (server.address() as AddressInfo).port, ca, caFile, server,
    close: async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}

/** A resolver answering from a table (names absent → ENOTFOUND). */
export function stubLookup(table: Record<string, string | string[] | (() => string)>): LookupAll {
  return async (name) => {
    const entry = table[name];
    if (entry === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    const list = typeof entry === 'function' ? [entry()] : Array.isArray(entry) ? entry : [entry];
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

export interface RawAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request to a forward proxy with exactly this target (absolute-form or authority for CONNECT). */
export function viaProxy(proxyPort: number, target: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawAnswer> {
  const method = opts.method ?? 'GET';
  return new Promise((resolve, reject) => {
    // like real clients: Host names the destination, not the proxy
    const host = method === 'CONNECT' ? target : /^https?:\/\/([^/?#]*)/i.exec(target)?.[1] ?? target;
    const headers = { host, ...opts.headers };
    const r = httpRequest({ host: '127.0.0.1', port: proxyPort, method, path: target, headers, agent: false, setHost: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    // CONNECT answers come as 'connect'; 2xx opens a tunnel we close at once
    r.on('connect', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode!, headers: res.headers, body: '' }); });
    r.on('error', reject);
    r.end(opts.body);
  });
}

/** `Basic …` for a Proxy-Authorization header. */
export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
