import type { Server } from 'node:net';
import { parseListen } from '../config/shape.js';

/** Listens on `host:port`; a failure becomes one clear line naming who could not listen where. */
export function listenOn(server: Server, address: string, who: string): Promise<void> {
  const { host, port } = parseListen(address);
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => reject(new Error(`${who}: cannot listen on ${address}: ${e.code ?? e.message}`));
    server.once('error', onError);
    server.listen(port, host, () => { server.off('error', onError); resolve(); });
  });
}
