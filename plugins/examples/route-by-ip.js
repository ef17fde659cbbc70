// Routes by client IPv4 prefix (CIDR) to a pool; the first matching rule wins.
// options: { rules: [{ cidr: "10.1.0.0/16", pool: "internal" }, { cidr: "192.168.0.0/24", pool: "lab" }] }

function toInt(ip) {
  const parts = ip.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    const v = Number(p);
    if (!Number.isInteger(v) || v < 0 || v > 255) return null;
    n = n * 256 + v;
  }
  return n;
}

let cached = null;
function rules(config) {
  if (cached && cached.config === config) return cached.list;
  const list = (config.rules ?? []).map(({ cidr, pool }) => {
    const [base, bits = '32'] = cidr.split('/');
    const size = 2 ** (32 - Number(bits));
    const start = Math.floor(toInt(base) / size) * size;
    return { start, end: start + size, pool };
  });
  cached = { config, list };
  return list;
}

export function route(req, ctx) {
  // IPv4-mapped IPv6 (::ffff:10.1.2.3) is how dual-stack sockets report IPv4 clients.
  const ip = toInt(req.client.ip.replace(/^::ffff:/, ''));
  if (ip === null) return undefined;
  const hit = rules(ctx.config).find((r) => ip >= r.start && ip < r.end);
  return hit ? { pool: hit.pool } : undefined;
}
