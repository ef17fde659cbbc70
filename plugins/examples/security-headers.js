// Header rewriting both ways.
// Request: drops client-sent internal headers and tells the upstream the client's IP.
// Response: strips headers that reveal the server software and adds security headers.
// options: { hsts: "max-age=31536000", csp: "default-src 'self'" }

const INTERNAL = ['x-internal-user', 'x-debug'];

export function onRequest(req) {
  const present = INTERNAL.filter((h) => h in req.headers);
  return {
    set_headers: { 'x-client-ip': req.client.ip },
    ...(present.length ? { remove_headers: present } : {}),
  };
}

export function onResponse(res, req, ctx) {
  const set = {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'strict-origin-when-cross-origin',
  };
  if (ctx.config.csp) set['content-security-policy'] = ctx.config.csp;
  // HSTS only means something on HTTPS.
  if (req.tls && ctx.config.hsts !== '') set['strict-transport-security'] = ctx.config.hsts ?? 'max-age=31536000';
  return { remove_headers: ['server', 'x-powered-by'], set_headers: set };
}
