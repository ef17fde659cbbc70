/**
 * GET / on the admin API: a status page rendered on the server from the same document as GET /status
 * (no framework, nothing fetched from elsewhere). A few lines of inline script refresh it and drain an
 * upstream through DELETE /pools/NAME/upstreams with the admin token typed into the page.
 */

import { escapeHtml } from '../core/answer-format.js';

type Doc = Record<string, unknown>;
const list = (v: unknown): Doc[] => (Array.isArray(v) ? (v as Doc[]) : []);
const obj = (v: unknown): Doc => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : {});

/** Text and attribute values: every value comes from config or requests, so all of it is escaped. */
const esc = (v: unknown): string => escapeHtml(String(v ?? ''));

const td = (cls: string, v: unknown) => `<td class="${cls}">${esc(v)}</td>`;
const table = (id: string, head: string[], rows: string[]) =>
  rows.length ? `<table id="${id}"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>` : `<p class="none" id="${id}">none</p>`;

function mib(bytes: unknown): string {
  return `${(Number(bytes ?? 0) / 1048576).toFixed(1)} MiB`;
}

/** The HTML of the page; `nonce` allows its one inline script under the page's Content-Security-Policy. */
export function renderStatusPage(status: Doc, nonce: string): string {
  // a cluster primary's document carries the merged view under `summary`
  const s = status.summary ? { ...obj(status.summary), node_id: status.node_id, uptime_s: status.uptime_s } : status;
  const listeners: Doc[] = [
    ...list(s.listeners).map((l) => ({ ...l, mode: 'reverse' })),
    ...list(s.forward).map((l) => ({ ...l, mode: 'forward' })),
    ...list(s.tcp).map((l) => ({ ...l, mode: 'tcp' })),
  ];
  const listenerRows = listeners.map((l) => `<tr data-listener="${esc(l.name)}">${td('name', l.name)}${td('mode', l.mode)}${td('address', l.address)}${td('inflight', l.inflight ?? l.connections ?? 0)}</tr>`);
  const certRows = list(s.listeners).flatMap((l) => list(l.certificates).map((c) =>
    `<tr>${td('listener', l.name)}${td('names', list(c.names).join(', '))}${td('expires', c.validTo)}</tr>`));
  const poolRows = Object.entries(obj(s.pools)).flatMap(([pool, p]) => list(obj(p).upstreams).map((u) => `<tr data-pool="${esc(pool)}" data-upstream="${esc(u.url)}">`
    + `${td('pool', pool)}${td('url', u.url)}${td('state', u.state)}${td('health', u.health)}${td('weight', u.weight)}`
    + `${td('inflight', u.active)}${td('ejections', u.ejections)}${td('requests', u.requests)}${td('failures', u.failures)}`
    + `<td><button type="button" class="drain" data-pool="${esc(pool)}" data-upstream="${esc(u.url)}"${u.state === 'draining' ? ' disabled' : ''}>Drain</button></td></tr>`));
  const cache = obj(s.cache);
  const pluginRows = list(s.plugins).map((p) => `<tr data-plugin="${esc(p.name)}">${td('name', p.name)}${td('state', p.state)}${td('calls', p.calls)}${td('failures', p.errors)}${td('quarantine', p.state === 'quarantined' ? 'yes' : 'no')}${td('last-error', p.last_error)}</tr>`);
  const errorRows = list(s.recent_errors).toReversed().map((e) => `<tr>${td('at', e.at)}${td('listener', e.listener)}${td('status', e.status)}${td('error', e.error)}${td('request', `${e.method} ${e.path}`)}${td('req-id', e.req_id)}</tr>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gatehouse ${esc(s.node_id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.5rem}
table{border-collapse:collapse}th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:left}th{background:#f4f4f4}
td.health,td.state{font-weight:600}.none{color:#777}#message{min-height:1.2em;color:#06c}
</style></head><body>
<h1>Gatehouse <span id="node">${esc(s.node_id)}</span></h1>
<p>Up <span id="uptime">${esc(s.uptime_s)}</span> s. <label><input type="checkbox" id="refresh"> refresh every 5 s</label></p>
<h2>Listeners</h2>${table('listeners', ['name', 'mode', 'address', 'in flight'], listenerRows)}
<h2>Certificates</h2>${table('certificates', ['listener', 'names', 'expires'], certRows)}
<h2>Pools</h2>
<p><label>Admin token <input type="password" id="token" autocomplete="off"></label> <span id="message"></span></p>
${table('pools', ['pool', 'upstream', 'state', 'health', 'weight', 'in flight', 'ejections', 'requests', 'failures', ''], poolRows)}
<h2>Cache</h2>
<p id="cache">Size <span id="cache-bytes">${esc(mib(cache.bytes))}</span> of ${esc(mib(cache.maxSize))},
<span id="cache-entries">${esc(cache.entries ?? 0)}</span> entries; hit ratio <span id="cache-hit-ratio">${esc(((Number(cache.hit_ratio ?? 0)) * 100).toFixed(1))}%</span>
of <span id="cache-lookups">${esc(cache.lookups ?? 0)}</span> lookups.</p>
<h2>Plugins</h2>${table('plugins', ['name', 'state', 'calls', 'failures', 'quarantined', 'last error'], pluginRows)}
<h2>Recent errors</h2>${table('errors', ['at', 'listener', 'status', 'error', 'request', 'request id'], errorRows)}
<script nonce="${nonce}">
const message = document.getElementById('message');
for (const b of document.querySelectorAll('button.drain')) {
  b.addEventListener('click', async () => {
    const token = document.getElementById('token').value;
    const url = '/pools/' + encodeURIComponent(b.dataset.pool) + '/upstreams?url=' + encodeURIComponent(b.dataset.upstream);
    message.textContent = 'draining ' + b.dataset.upstream + '…';
    const r = await fetch(url, { method: 'DELETE', headers: token ? { authorization: 'Bearer ' + token } : {} });
    const body = await r.json().catch(() => ({}));
    message.textContent = r.ok ? 'drained ' + b.dataset.upstream : 'drain refused (' + r.status + '): ' + (body.error || '');
    if (r.ok) location.reload();
  });
}
const refresh = document.getElementById('refresh');
refresh.checked = location.hash === '#refresh';
refresh.addEventListener('change', () => { location.hash = refresh.checked ? 'refresh' : ''; });
setInterval(() => { if (refresh.checked && document.getElementById('token').value === '') location.reload(); }, 5000);
</script>
</body></html>
`;
}
