/** Opens a TCP connection to an upstream within a deadline. */
import net, { type Socket } from 'node:net';
import type { Upstream } from '../reverse/upstream.js';

const DEFAULT_PORT: Record<string, number> = { 'http:': 80, 'https:': 443 };

/** Resolves with the connected socket (half-open allowed, so each direction ends on its own), or rejects with a coded error. */
export function connectUpstream(upstream: Upstream, timeoutMs: number): Promise<Socket> {
  const { url } = upstream;
  const port = Number(url.port) || DEFAULT_PORT[url.protocol] || 0;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect timeout after ${timeoutMs}ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    }, timeoutMs);
    socket.once('connect', () => { clearTimeout(timer); socket.off('error', onError); resolve(socket); });
    const onError = (err: Error) => { clearTimeout(timer); socket.destroy(); reject(err); };
    socket.once('error', onError);
  });
}
