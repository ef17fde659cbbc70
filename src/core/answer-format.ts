/**
 * The one rule for every answer the proxy makes itself (errors, denials, block pages): HTML for
 * clients whose Accept prefers text/html to text/plain (browsers), plain text for everyone else (curl,
 * scripts, API clients, no Accept). Both name the status, the reason and the request id.
 */

/** The q of the most specific range in `accept` that matches `type/subtype` (0 when none does). */
function qualityOf(ranges: { type: string; q: number }[], mediaType: string): number {
  const [type] = mediaType.split('/');
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    const specificity = r.type === mediaType ? 2 : r.type === `${type}/*` ? 1 : r.type === '*/*' ? 0 : -1;
    if (specificity > best) { best = specificity; q = r.q; }
  }
  return q;
}

function parseAccept(accept: string): { type: string; q: number }[] {
  return accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    return { type, q: Number.isFinite(q) ? q : 0 };
  }).filter((r) => r.type.includes('/'));
}

/** True when the client ranks text/html above text/plain. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = parseAccept(accept);
  return qualityOf(ranges, 'text/html') > qualityOf(ranges, 'text/plain');
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export interface AnswerPage {
  /** e.g. "403 Forbidden". */
  readonly title: string;
  /** One short sentence. */
  readonly message?: string;
  /** Name/value lines shown under the message (destination, rule, request id). */
  readonly facts: readonly (readonly [string, string])[];
  /** Shown in the footer (config `node_id`). */
  readonly nodeId?: string;
}

/** A short HTML page: every value escaped, no scripts, no outside resources. */
export function htmlAnswer(page: AnswerPage): string {
  const e = escapeHtml;
  return [
    '<!doctype html>',
    `<html lang="en"><head><meta charset="utf-8"><title>${e(page.title)}</title></head>`,
    '<body>',
    `<h1>${e(page.title)}</h1>`,
    ...(page.message ? [`<p>${e(page.message)}</p>`] : []),
    '<dl>',
    ...page.facts.map(([name, value]) => `<dt>${e(name)}</dt><dd>${e(value)}</dd>`),
    '</dl>',
    `<hr><p>gatehouse${page.nodeId ? ` ${e(page.nodeId)}` : ''}</p>`,
    '</body></html>',
    '',
  ].join('\n');
}

/** Headers an HTML answer carries besides its type and length: never cached, never sniffed, runs nothing. */
export const HTML_ANSWER_HEADERS = ['x-content-type-options', 'nosniff', 'content-security-policy', "default-src 'none'"] as const;
