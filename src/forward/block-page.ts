/**
 * The 403 page a forward listener answers when a request is denied by the ACL, the domain block
 * list, a URL pattern or the SSRF guard: short HTML naming the rule and the request id (so a user
 * can quote it to the help desk), every value HTML-escaped, never cached, no scripts.
 */

export interface BlockPageOptions {
  /** The rule that decided, e.g. `acl[2]`, `office`, `block_lists:/etc/ads.txt:12 (*.ads.example)`. */
  readonly rule: string;
  readonly requestId: string;
  /** What was asked for (host or URL). */
  readonly target?: string;
  /** One short sentence; default "Access to this destination is blocked by policy." */
  readonly reason?: string;
  /** Shown in the footer (config `node_id`). */
  readonly nodeId?: string;
  /** Default 403. */
  readonly status?: number;
}

export interface BlockPage {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function buildBlockPage(opts: BlockPageOptions): BlockPage {
  const e = (s: string) => escapeHtml(s);
  const body = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>Access denied</title></head>',
    '<body>',
    '<h1>Access denied</h1>',
    `<p>${e(opts.reason ?? 'Access to this destination is blocked by policy.')}</p>`,
    '<dl>',
    opts.target === undefined ? '' : `<dt>Destination</dt><dd>${e(opts.target)}</dd>`,
    `<dt>Rule</dt><dd>${e(opts.rule)}</dd>`,
    `<dt>Request id</dt><dd>${e(opts.requestId)}</dd>`,
    '</dl>',
    `<hr><p>gatehouse${opts.nodeId ? ` ${e(opts.nodeId)}` : ''}</p>`,
    '</body></html>',
    '',
  ].filter((l, i, all) => l !== '' || i === all.length - 1).join('\n');
  return {
    status: opts.status ?? 403,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'",
    },
    body,
  };
}
