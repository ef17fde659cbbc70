/** Real servers and a real proxy on 127.0.0.1 with ephemeral ports, for end-to-end tests. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildConfig } from '../../src/config/load.js';
import { Gateway, type GatewayOptions } from '../../src/gateway.js';

export interface Origin {
  url: string;
  port: number;
  server: Server;
  /** Every request the origin received, in order (head only; bodies are up to the handler). */
  seen: IncomingMessage[];
  close(): Promise<void>;
}

/** Starts an origin server; by default it answers 200 with `name`. */
export async function startOrigin(
  handler: string | ((req: IncomingMessage, res: ServerResponse) => void) = 'ok',
): Promise<Origin> {
  const seen: IncomingMessage[] = [];
  const fn = typeof handler === 'string' ? (_req: IncomingMessage, res: ServerResponse) => { _req.resume(); res.end(handler); } : handler;
  const server = createServer((req, res) => { seen.push(req); fn(req, res); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`, port, server, seen,
    close: async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}

export interface TestProxy {
  gateway: Gateway;
  /** Base URL of reverse listener i. */
  url(i?: number): string;
  /** `http://127.0.0.1:PORT` of forward listener i (for curl -x, ProxyAgent). */
  forwardUrl(i?: number): string;
  /** Admin base URL (when the config has admin.listen). */
  adminUrl(): string;
  /** Log lines written so far, parsed. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A log sink that keeps parsed lines in memory. */
export function memoryLogger(level = 'info') {
  const logs: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level, base: { node: 'test' } }, stream), logs };
}

/**
 * Starts a Gateway from a config object (YAML-shaped). Listeners without `listen` get 127.0.0.1:0;
 * the environment is ignored; the admin API is off unless `admin.listen` is given.
 */
export async function startProxy(data: Record<string, unknown>, options: GatewayOptions = {}): Promise<TestProxy> {
  const withPorts = structuredClone(data) as Record<string, unknown>;
  for (const key of ['reverse', 'forward', 'tcp']) {
    const list = withPorts[key] as Record<string, unknown>[] | undefined;
    list?.forEach((l) => { l.listen ??= '127.0.0.1:0'; });
  }
  withPorts.admin ??= { listen: '' };
  withPorts.node_id ??= 'gh-test';
  withPorts.via_name ??= withPorts.node_id; // tests that chain proxies give each its own node_id, or pass '' for the unique default
  withPorts.shutdown_timeout ??= '2s';
  // Plugin time limits are tested where they are the subject; elsewhere a loaded machine must not trip them.
  const plugins = (withPorts.plugins ??= {}) as Record<string, unknown>;
  plugins.cpu_limit ??= '10s';
  plugins.timeout ??= '20s';
  const config = buildConfig(withPorts, { env: {} });
  const { log, logs } = memoryLogger('debug');
  const gateway = new Gateway(config, log, undefined, options);
  await gateway.start();
  return {
    gateway, logs,
    url: (i = 0) => {
      const a = gateway.reverseListeners[i]!.listener.address;
      return `${gateway.reverseListeners[i]!.config.tls ? 'https' : 'http'}://127.0.0.1:${a.port}`;
    },
    forwardUrl: (i = 0) => `http://127.0.0.1:${gateway.forwardListeners[i]!.listener.address.port}`,
    adminUrl: () => `http://127.0.0.1:${gateway.adminAddress!.port}`,
    close: () => gateway.stop(),
  };
}

/** The port of a listener URL (`proxy.url()`, `origin.url`). */
export const portOf = (url: string): number => Number(new URL(url).port);

/** The port of a proxy's first forward listener. */
export const forwardPortOf = (p: TestProxy): number => portOf(p.forwardUrl());

/** A one-route reverse proxy config in front of the given origins. */
export function simpleReverse(origins: string[], pool: Record<string, unknown> = {}, route: Record<string, unknown> = {}) {
  return {
    reverse: [{ routes: [{ match: {}, pool: 'app', ...route }] }],
    pools: { app: { upstreams: origins.map((url) => ({ url })), ...pool } },
  };
}

/**
 * The first log line matching `match`, waited for: a line (the access line above all) may be written just
 * after the response the test saw. Throws after `ms` (wide: a loaded machine is slow, a found line returns at once).
 */
export async function logLine(logs: Record<string, unknown>[], match: (l: Record<string, unknown>) => boolean, ms = 15_000): Promise<Record<string, unknown>> {
  for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 20))) {
    const line = logs.find(match);
    if (line) return line;
    if (Date.now() > end) throw new Error('timed out waiting for a log line');
  }
}
