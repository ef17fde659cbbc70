// Answers every request with a maintenance page, except for allow-listed clients.
// options: { enabled: true, allow: ["10.0.0.", "127.0.0.1"], retry_after: 600, message: "..." }
// An allow entry ending in "." (or ":") is a prefix; otherwise it must equal the client IP.

const PAGE = (message) => `<!doctype html>
<html><head><meta charset="utf-8"><title>Maintenance</title></head>
<body><h1>Down for maintenance</h1><p>${message}</p></body></html>
`;

const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function allowed(ip, allow) {
  return allow.some((a) => (a.endsWith('.') || a.endsWith(':') ? ip.startsWith(a) : ip === a));
}

export function onRequest(req, ctx) {
  const { enabled = true, allow = [], retry_after: retryAfter = 600, message = 'We will be back soon.' } = ctx.config;
  if (!enabled || allowed(req.client.ip, allow)) return undefined;
  return {
    respond: {
      status: 503,
      headers: { 'content-type': 'text/html; charset=utf-8', 'retry-after': retryAfter, 'cache-control': 'no-store' },
      body: PAGE(escapeHtml(String(message))),
    },
  };
}
