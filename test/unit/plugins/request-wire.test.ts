import { expect } from 'chai';
import { Plugin } from '../../../src/plugins/plugin.js';
import { requestViewFrom, responseViewFrom } from '../../../src/plugins/request-view.js';
import { encodeRequestView } from '../../../src/plugins/request-wire.js';
import type { RequestView } from '../../../src/plugins/plugin-types.js';
import { PluginDir } from './plugin-fixtures.js';

// The views cross into the isolate as strings (request-wire.ts) and are rebuilt there by the shim:
// a plugin must see exactly the object the host had, whichever encoding was used.
describe('plugins: request and response views cross into the isolate intact', () => {
  const dir = new PluginDir();
  let echo: Plugin;
  before(() => {
    echo = Plugin.load({ name: 'echo', watchdogIntervalMs: 0, file: dir.write('echo.js', `
      const own = (o) => Object.getPrototypeOf(o) === Object.prototype;
      export function onRequest(req) {
        return { respond: { status: 200, headers: {}, body: JSON.stringify({ req, own: own(req) && own(req.headers) && own(req.client),
          keys: Object.keys(req.headers), proto: Object.prototype.hasOwnProperty.call(req.headers, '__proto__') }) } };
      }
      export function onResponse(res, req) {
        return { set_headers: { 'x-seen': JSON.stringify({ res, req }) } };
      }`) });
  });
  after(() => { echo.close(); dir.remove(); });

  const seen = (view: RequestView) => {
    const r = echo.onRequest(view);
    if (!r.ok || r.decision === null || !('respond' in r.decision)) throw new Error(JSON.stringify(r));
    return JSON.parse(r.decision.respond.body) as { req: RequestView; own: boolean; keys: string[]; proto: boolean };
  };

  const views: Record<string, RequestView> = {
    'a plain reverse request': requestViewFrom({ method: 'post', url: 'http://shop.test/cart?id=3', route: 'app',
      headers: { 'content-type': 'application/json', cookie: 'a=1; b=2', 'x-empty': '' } }),
    'TLS with SNI, a user, and empty query and path fields': requestViewFrom({ mode: 'forward', url: 'https://a.test/',
      tls: { sni: 'a.test', version: 'TLSv1.3' }, client: { ip: '::1', port: 1, user: '' } }),
    'TLS without SNI': requestViewFrom({ url: 'https://a.test/', tls: { version: 'TLSv1.2' } }),
    'a newline in the user, SNI and route (sent as JSON)': requestViewFrom({ route: 'r\nx', url: 'https://a.test/',
      tls: { sni: 'x\ny', version: 'TLSv1.3' }, client: { user: 'bob\nadmin' } }),
    'a newline in a header value and a field (fixtures only)': requestViewFrom({ path: '/a\nb', headers: { 'x-a': '1\n2' } }),
    'an id that starts with NUL': requestViewFrom({ id: '\u0000x' }),
    'header names that are Object.prototype members': requestViewFrom({ headers: { __proto__: 'p', constructor: 'c', toString: 't' } }),
  };
  for (const [name, view] of Object.entries(views)) {
    it(name, () => {
      const s = seen(view);
      expect(s.req).to.deep.equal(view);
      expect(s.own, 'plain objects').to.equal(true);
      expect(s.keys).to.deep.equal(Object.keys(view.headers));
    });
  }

  it('a header named __proto__ is an own property, not the prototype', () => {
    const view = requestViewFrom({});
    Object.defineProperty(view.headers, '__proto__', { value: 'x', enumerable: true, writable: true, configurable: true });
    for (const v of [view, encodeRequestView(view)]) expect(seen(v as RequestView).proto).to.equal(true);
  });

  it('onResponse gets the response view (set-cookie stays a list) and the request', () => {
    const res = responseViewFrom({ status: 404, headers: { 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/html' } });
    const req = views['a plain reverse request']!;
    const r = echo.onResponse(res, req);
    if (!r.ok || r.decision === null) throw new Error(JSON.stringify(r));
    const headers = r.decision.set_headers as Record<string, string>;
    expect(JSON.parse(headers['x-seen']!)).to.deep.equal({ res, req });
  });

  it('results must be plain data: a Map, a class instance, a function or a BigInt is malformed', () => {
    const p = Plugin.load({ name: 'results', watchdogIntervalMs: 0, file: dir.write('results.js', `
      class Decision { constructor() { this.deny = { status: 403, reason: 'x' }; } }
      export function onRequest(req) {
        if (req.path === '/map') return new Map([['deny', 1]]);
        if (req.path === '/class') return new Decision();
        if (req.path === '/fn') return { deny: { status: 403, reason: () => 'x' } };
        if (req.path === '/bigint') return { deny: { status: 403n, reason: 'x' } };
        if (req.path === '/string') return 'deny';
        return { deny: { status: 451, reason: 'plain' } };
      }`) });
    try {
      for (const path of ['/map', '/class', '/fn', '/bigint', '/string']) {
        const r = p.onRequest(requestViewFrom({ path }));
        expect(r.ok, path).to.equal(false);
        if (!r.ok) expect(r.error.kind, path).to.equal('malformed');
      }
      expect(p.onRequest(requestViewFrom({ path: '/ok' }))).to.deep.equal({ ok: true, decision: { deny: { status: 451, reason: 'plain' } } });
    } finally {
      p.close();
    }
  });
});
