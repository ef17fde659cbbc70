/**
 * The processes the benchmark measures, each started as its own child: `origin`, the bare undici
 * pipe baseline, and the http-proxy-middleware baseline. Usage: servers.ts KIND PORT [ORIGIN_URL]
 */
import { createServer, Agent } from 'node:http';
import { Pool } from 'undici';
import { createProxyMiddleware } from 'http-proxy-middleware';

const [kind, portArg, originUrl] = process.argv.slice(2);
const port = Number(portArg);
const ready = () => process.send?.('ready');
// Exit cleanly on SIGTERM so profilers (--cpu-prof) get to write their output.
process.on('SIGTERM', () => process.exit(0));

if (kind === 'origin') {
  const bodies: Record<string, Buffer> = { '/1k': Buffer.alloc(1024, 'a'), '/100k': Buffer.alloc(100 * 1024, 'b') };
  const chunk = Buffer.alloc(64 * 1024, 'c');
  createServer((req, res) => {
    req.resume();
    if (req.url === '/big') {
      // 100 MB, written as fast as the reader takes it (the slow-reader measurements)
      let left = 1600;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left * chunk.length });
      const pump = (): void => {
        while (left > 0 && !res.destroyed) { left--; if (!res.write(chunk)) { res.once('drain', pump); return; } }
        if (left === 0) res.end();
      };
      pump();
      return;
    }
    const body = bodies[req.url!.split('?')[0]!] ?? bodies['/1k']!;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'cache-control': 'public, max-age=600' });
    res.end(body);
  }).listen(port, '127.0.0.1', ready);
} else if (kind === 'undici') {
  // The baseline of the issue: a bare undici Pool.stream pipe, no routing, logging or header work.
  const pool = new Pool(originUrl!, { connections: 64, pipelining: 1 });
  createServer((req, res) => {
    pool.stream(
      { path: req.url!, method: req.method as 'GET', headers: req.headers as Record<string, string>, body: req.method === 'GET' || req.method === 'HEAD' ? null : req, opaque: res },
      ({ statusCode, headers, opaque }) => { (opaque as typeof res).writeHead(statusCode, headers as Record<string, string>); return opaque as typeof res; },
      (err) => { if (err) { res.statusCode = 502; res.end(); } },
    );
  }).listen(port, '127.0.0.1', ready);
} else if (kind === 'hpm') {
  const proxy = createProxyMiddleware({ target: originUrl, agent: new Agent({ keepAlive: true, maxSockets: 64 }) });
  createServer((req, res) => { void proxy(req, res, () => { res.statusCode = 404; res.end(); }); }).listen(port, '127.0.0.1', ready);
} else {
  process.stderr.write(`unknown server kind ${kind}\n`);
  process.exit(2);
}
