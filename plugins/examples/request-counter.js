// Counts requests per client in module state and denies with 429 over a limit per window.
// options: { limit: 100, window_ms: 60000, key: "ip" | "user" | "header:x-api-key", max_clients: 10000 }
// State lives in this plugin's isolate: it is per proxy process and starts empty after a
// reload or after the isolate is rebuilt.

const counters = new Map(); // key -> { start, count }

function clientKey(req, key) {
  if (key === 'user') return req.client.user ?? req.client.ip;
  if (key.startsWith('header:')) return req.headers[key.slice(7)] ?? req.client.ip;
  return req.client.ip;
}

export function onRequest(req, ctx) {
  const { limit = 100, window_ms: windowMs = 60000, key = 'ip', max_clients: maxClients = 10000 } = ctx.config;
  const now = Date.now();
  const id = clientKey(req, key);
  let c = counters.get(id);
  if (!c || now - c.start >= windowMs) {
    if (!c && counters.size >= maxClients) {
      // Bound memory: drop the oldest entry (Map keeps insertion order).
      counters.delete(counters.keys().next().value);
    }
    c = { start: now, count: 0 };
    counters.delete(id);
    counters.set(id, c);
  }
  c.count++;
  if (c.count > limit) {
    const retry = Math.ceil((c.start + windowMs - now) / 1000);
    if (c.count === limit + 1) log.warn('client over limit', id);
    return { respond: { status: 429, headers: { 'retry-after': retry, 'content-type': 'text/plain' }, body: 'too many requests\n' } };
  }
  return undefined;
}
