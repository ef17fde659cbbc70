import net from 'node:net';
import { PeriodicChecker, type Probe } from './periodic-checker.js';

/** Config `pools.*.health` without `path`: a TCP connect check (durations in ms). */
export interface ActiveTcpOptions {
  readonly interval: number;
  readonly timeout: number;
  readonly jitter?: number;
  readonly random?: () => number;
}

/** Opens (and at once closes) a TCP connection to each upstream every `interval` (± jitter). */
export class ActiveTcpChecker extends PeriodicChecker {
  constructor(opts: ActiveTcpOptions) {
    super(tcpProbe, { intervalMs: opts.interval, timeoutMs: opts.timeout, jitter: opts.jitter, random: opts.random });
  }
}

/** Passes when a TCP connection to the upstream's host:port is established within the timeout. */
const tcpProbe: Probe = (target, signal, timeoutMs) =>
  new Promise((resolve) => {
    const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
    const socket = net.connect({ host: target.hostname.replace(/^\[|\]$/g, ''), port });
    let done = false;
    const finish = (ok: boolean, reason: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ ok, reason });
    };
    const timer = setTimeout(() => finish(false, `timeout after ${timeoutMs}ms`), timeoutMs);
    const onAbort = () => finish(false, 'stopped');
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish(true, 'connected'));
    socket.once('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
  });
