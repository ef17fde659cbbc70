/**
 * A real redis-server for tests, on a free port of this test process's own loopback address, stopped by its
 * PID. Redis refuses `--port 0`, so a free port is found first (and another one tried if it was taken
 * anyway). A missing redis-server skips the tests on a workstation and fails them in CI (`CI` set), where
 * .ci/run installs the Debian package.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { freePort, OWN_HOST } from './addresses.js';

export function haveRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Call in a `before` hook: skips the suite when redis-server is missing, except in CI where that is an error. */
export function requireRedisServer(ctx: Mocha.Context): void {
  if (haveRedisServer()) return;
  if (process.env.CI) throw new Error('redis-server is not installed (CI must install the Debian package redis-server, see .ci/run)');
  ctx.skip();
}


export interface TestRedis {
  port: number;
  url: string;
  /** SIGKILL: Redis vanishes without a goodbye, as in a crash. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: Redis stays connected but answers nothing meanwhile (a slow or hung server). */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port (state is gone: no persistence). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts redis-server; `args` are extra command-line options (e.g. ['--requirepass', 'pw']). */
export async function startRedis(args: string[] = [], opts: { tlsPort?: boolean } = {}): Promise<TestRedis> {
  let child: ChildProcess | undefined;
  let port = 0;
  const launch = async (): Promise<boolean> => {
    const portArgs = opts.tlsPort ? ['--port', '0', '--tls-port', String(port)] : ['--port', String(port)];
    const c = spawn('redis-server', [...portArgs, '--bind', OWN_HOST, '--save', '', '--appendonly', 'no', '--logfile', '', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const ready = new Promise<boolean>((resolve) => {
      c.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('Ready to accept connections')) resolve(true); });
      c.on('exit', () => resolve(false));
    });
    const ok = await ready;
    if (ok) child = c;
    return ok;
  };
  const start = async (samePort: boolean) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!samePort || port === 0) port = await freePort();
      if (await launch()) return;
      if (samePort) await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`redis-server did not start (port ${port})`);
  };
  const stopChild = async (signal: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const gone = once(c, 'exit');
    c.kill(signal);
    await gone;
  };
  await start(false);
  return {
    get port() { return port; },
    get url() { return `${opts.tlsPort ? 'rediss' : 'redis'}://${OWN_HOST}:${port}`; },
    kill: () => stopChild('SIGKILL'),
    pause: () => { child?.kill('SIGSTOP'); },
    resume: () => { child?.kill('SIGCONT'); },
    restart: () => start(true),
    stop: () => stopChild('SIGTERM'),
  };
}
