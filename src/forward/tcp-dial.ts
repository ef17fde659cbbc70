/** Opens a TCP connection to an address within a deadline (CONNECT tunnels, parent proxies). */
import net, { type Socket } from 'node:net';

/**
 * Resolves with the connected socket (half-open allowed, so each direction of a tunnel ends on its
 * own), or rejects with a coded error that `toProxyError` maps (ECONNREFUSED 502, timeout 504).
 */
export function dialTcp(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect to ${host}:${port} timed out after ${timeoutMs}ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
    }, timeoutMs);
    const onError = (err: Error) => { clearTimeout(timer); socket.destroy(); reject(err); };
    socket.once('error', onError);
    socket.once('connect', () => { clearTimeout(timer); socket.off('error', onError); resolve(socket); });
  });
}
