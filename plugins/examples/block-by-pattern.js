// Denies requests whose path or headers match configured patterns.
// options: { paths: ["^/admin", "\\.php$"], headers: { "user-agent": "(?i)sqlmap|nikto" }, status: 403 }
// Patterns are JavaScript regular expressions; a leading "(?i)" makes one case-insensitive.

const compile = (src) => (src.startsWith('(?i)') ? new RegExp(src.slice(4), 'i') : new RegExp(src));

// Compiled once per distinct config (module state survives between calls).
let cached = null;
function rules(config) {
  if (cached && cached.config === config) return cached;
  cached = {
    config,
    paths: (config.paths ?? []).map(compile),
    headers: Object.entries(config.headers ?? {}).map(([name, re]) => [name.toLowerCase(), compile(re)]),
    status: config.status ?? 403,
  };
  return cached;
}

export function onRequest(req, ctx) {
  const r = rules(ctx.config);
  if (r.paths.some((re) => re.test(req.path))) {
    return { deny: { status: r.status, reason: `path ${req.path} is blocked` } };
  }
  for (const [name, re] of r.headers) {
    const value = req.headers[name];
    if (value !== undefined && re.test(value)) {
      log.info('blocked', req.client.ip, 'by header', name);
      return { deny: { status: r.status, reason: `header ${name} is blocked` } };
    }
  }
  return undefined;
}
