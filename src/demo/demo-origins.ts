/**
 * Small built-in origin servers the default config starts (`demo_origins`), so `npm start` on a fresh
 * machine has something to proxy to. Each answers with who it is and what it received.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { parseListen } from '../config/shape.js';

export async function startDemoOrigins(addresses: readonly string[]): Promise<Server[]> {
  const servers: Server[] = [];
  for (const address of addresses) {
    const { host, port } = parseListen(address);
    const server = createServer((req, res) => {
      if (req.url === '/health') { res.end('ok\n'); return; }
      req.resume();
      const body = JSON.stringify({ origin: address, method: req.method, url: req.url, headers: req.headers }, null, 2);
      // Cacheable for a few seconds so the cache's HIT path is easy to see with curl.
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=5', 'x-demo-origin': address });
      res.end(`${body}\n`);
    });
    server.listen(port, host);
    await once(server, 'listening');
    servers.push(server);
  }
  return servers;
}
