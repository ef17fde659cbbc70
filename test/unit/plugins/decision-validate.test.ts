import { expect } from 'chai';
import { routeTargetsFrom, validateDecision } from '../../../src/plugins/decision-validate.js';

const bad = (hook: 'onRequest' | 'route' | 'onResponse', raw: unknown, re: RegExp, targets = routeTargetsFrom({ app: ['http://10.0.0.1:8080'] })) => {
  const r = validateDecision(hook, raw, targets);
  expect(r.ok, JSON.stringify(raw)).to.equal(false);
  if (!r.ok) expect(r.message).to.match(re);
};

describe('plugins: decision validation', () => {
  it('nothing means continue', () => {
    for (const hook of ['onRequest', 'route', 'onResponse'] as const) {
      expect(validateDecision(hook, undefined)).to.deep.equal({ ok: true, decision: null });
      expect(validateDecision(hook, null)).to.deep.equal({ ok: true, decision: null });
      expect(validateDecision(hook, {})).to.deep.equal({ ok: true, decision: null });
    }
  });

  it('normalizes onRequest decisions', () => {
    expect(validateDecision('onRequest', { deny: { status: 451 } })).to.deep.equal({ ok: true, decision: { deny: { status: 451, reason: '' } } });
    expect(validateDecision('onRequest', { respond: { status: 200, headers: { 'Content-Type': 'text/plain', 'Retry-After': 5, 'Set-Cookie': ['a=1', 'b=2'] }, body: 'hi' } }))
      .to.deep.equal({ ok: true, decision: { respond: { status: 200, headers: { 'content-type': 'text/plain', 'retry-after': '5', 'set-cookie': ['a=1', 'b=2'] }, body: 'hi' } } });
    expect(validateDecision('onRequest', { set_headers: { 'X-A': 'b' }, remove_headers: ['Cookie'], rewrite_path: '/v2/x?y=1' }))
      .to.deep.equal({ ok: true, decision: { set_headers: { 'x-a': 'b' }, remove_headers: ['cookie'], rewrite_path: '/v2/x?y=1' } });
  });

  it('rejects bad onRequest decisions', () => {
    bad('onRequest', 42, /must return an object or nothing, got number/);
    bad('onRequest', [1], /got an array/);
    bad('onRequest', { deny: { status: 302 } }, /deny.status must be an integer 400-599/);
    bad('onRequest', { deny: { status: 403 }, set_headers: {} }, /unknown key "set_headers"/);
    bad('onRequest', { deny: { status: 403, reason: 'a\r\nb' } }, /control character/);
    bad('onRequest', { respond: { status: 99 } }, /respond.status must be an integer 200-599/);
    bad('onRequest', { respond: { status: 204, body: 'x' } }, /cannot have a body/);
    bad('onRequest', { respond: { status: 200, body: 'x'.repeat(64 * 1024 + 1) } }, /longer than|larger than/);
    bad('onRequest', { respond: { status: 200, body: 'é'.repeat(40 * 1024) } }, /larger than 65536 bytes/);
    bad('onRequest', { respond: { status: 200, headers: { 'transfer-encoding': 'chunked' } } }, /managed by the proxy/);
    bad('onRequest', { set_header: { a: 'b' } }, /unknown key "set_header"/);
    bad('onRequest', { set_headers: { 'bad name': 'x' } }, /invalid header name/);
    bad('onRequest', { set_headers: { 'x-a': 'x\ny' } }, /CR, LF, NUL/);
    bad('onRequest', { set_headers: { 'x-a': 'x\u0000y' } }, /CR, LF, NUL/);
    bad('onRequest', { set_headers: { 'x-a': { toString: 'x' } } }, /must be a string/);
    for (const h of ['Connection', 'keep-alive', 'TE', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'content-length', 'host']) {
      bad('onRequest', { set_headers: { [h]: 'x' } }, /managed by the proxy/);
      bad('onRequest', { remove_headers: [h] }, /managed by the proxy/);
    }
    bad('onRequest', { set_headers: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`x-${i}`, 'v'])) }, /more than 64 headers/);
    bad('onRequest', { rewrite_path: 'no-slash' }, /must start with "\/"/);
    bad('onRequest', { rewrite_path: '/a b' }, /visible ASCII/);
    bad('onRequest', { rewrite_path: '/a\r\nHost: x' }, /visible ASCII/);
    bad('onRequest', { rewrite_path: '/a#frag' }, /visible ASCII/);
  });

  it('routes only to configured pools and upstreams', () => {
    const t = routeTargetsFrom({ app: ['http://10.0.0.1:8080'], canary: ['https://canary.internal'] });
    expect(validateDecision('route', { pool: 'canary' }, t)).to.deep.equal({ ok: true, decision: { pool: 'canary' } });
    expect(validateDecision('route', { upstream: 'http://10.0.0.1:8080/' }, t)).to.deep.equal({ ok: true, decision: { upstream: 'http://10.0.0.1:8080' } });
    expect(validateDecision('route', { upstream: 'HTTPS://CANARY.internal:443' }, t)).to.deep.equal({ ok: true, decision: { upstream: 'https://canary.internal' } });
    bad('route', { pool: 'other' }, /no configured pool "other"/, t);
    bad('route', { upstream: 'http://169.254.169.254/latest' }, /not in any configured pool/, t);
    bad('route', { upstream: 'file:///etc/passwd' }, /not an http\(s\) URL/, t);
    bad('route', { pool: 'app', upstream: 'http://10.0.0.1:8080' }, /unknown key "upstream"/, t);
    bad('route', { pool: 7 }, /pool must be a string/, t);
  });

  it('checks onResponse decisions', () => {
    expect(validateDecision('onResponse', { status: 404, set_headers: { 'Strict-Transport-Security': 'max-age=1' }, remove_headers: ['Server'] }))
      .to.deep.equal({ ok: true, decision: { status: 404, set_headers: { 'strict-transport-security': 'max-age=1' }, remove_headers: ['server'] } });
    bad('onResponse', { status: 101 }, /integer 200-599/);
    bad('onResponse', { status: 200.5 }, /integer 200-599/);
    bad('onResponse', { set_headers: { 'content-length': '1' } }, /managed by the proxy/);
    bad('onResponse', { deny: { status: 403 } }, /unknown key "deny"/);
  });
});
