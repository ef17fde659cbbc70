import { LeastConnBalancer } from '../../../../src/reverse/balancers/least-conn.js';
import { RoundRobinBalancer } from '../../../../src/reverse/balancers/round-robin.js';
import { buildStickyCookie, CookieSticky, CookieStickyBalancer } from '../../../../src/reverse/sticky/cookie-sticky.js';
import { expect } from '../expect.js';
import { pool, seeded } from '../fixtures.js';

const opts = { secret: 'test-secret', cookie: 'GH_SERVER_ID' };

describe('sticky: cookie', () => {
  it('encodes an opaque, stable value per upstream that never reveals the address', () => {
    const p = pool(3);
    const a = new CookieSticky(opts);
    const again = new CookieSticky(opts); // a restart with the same secret
    const values = p.map((u) => a.encode(u.id));
    expect(p.map((u) => again.encode(u.id))).to.deep.equal(values);
    expect(new Set(values).size).to.equal(3);
    for (const v of values) {
      expect(v).to.match(/^[A-Za-z0-9_-]{22}$/);
      expect(v).to.not.include('127');
      expect(Buffer.from(v, 'base64url').toString('latin1')).to.not.include('127.0.0.1');
    }
    expect(new CookieSticky({ ...opts, secret: 'other' }).encode(p[0]!.id)).to.not.equal(values[0]);
  });

  it('decodes valid values and rejects forged, tampered and malformed ones', () => {
    const p = pool(3);
    const s = new CookieSticky(opts);
    expect(s.decode(s.encode(p[2]!.id), p)).to.equal(p[2]);
    const forged = new CookieSticky({ ...opts, secret: 'guess' }).encode(p[2]!.id);
    const v = s.encode(p[1]!.id);
    const tampered = (v[0] === 'A' ? 'B' : 'A') + v.slice(1);
    for (const bad of [forged, tampered, '', 'x', v + 'A', v.slice(0, -1), p[1]!.id, Buffer.from(p[1]!.id).toString('base64url'), 'A'.repeat(500)]) {
      expect(s.decode(bad, p), bad).to.equal(undefined);
    }
    expect(s.decode(undefined, p)).to.equal(undefined);
    expect(s.decode(s.encode('http://gone:1'), p)).to.equal(undefined);
  });

  it('keeps a client on its upstream across 100 requests', () => {
    const p = pool(3);
    const s = new CookieSticky(opts);
    const b = new CookieStickyBalancer(new RoundRobinBalancer(), s);
    const first = b.pick({}, p)!;
    const setCookie = s.setCookieFor({}, first)!;
    const cookie = setCookie.split(';')[0]!;
    for (let i = 0; i < 100; i++) {
      const ctx = { headers: { cookie: `theme=dark; ${cookie}` } };
      const u = b.pick(ctx, p)!;
      expect(u).to.equal(first);
      expect(s.setCookieFor(ctx, u)).to.equal(undefined); // no need to re-set
    }
  });

  it('rebalances a forged cookie, and fails over (with a new cookie) when the sticky upstream is down', () => {
    const p = pool(3);
    const s = new CookieSticky(opts);
    const b = new CookieStickyBalancer(new LeastConnBalancer(seeded()), s);
    const forged = { headers: { cookie: `GH_SERVER_ID=${new CookieSticky({ ...opts, secret: 'x' }).encode(p[0]!.id)}` } };
    const u = b.pick(forged, p)!;
    expect(s.setCookieFor(forged, u)).to.match(/^GH_SERVER_ID=[\w-]{22}; /);

    const ctx = { headers: { cookie: `GH_SERVER_ID=${s.encode(p[0]!.id)}` } };
    expect(b.pick(ctx, p)).to.equal(p[0]);
    p[0]!.available = false;
    const other = b.pick(ctx, p)!;
    expect(other).to.not.equal(p[0]);
    expect(s.setCookieFor(ctx, other)).to.equal(`GH_SERVER_ID=${s.encode(other.id)}; Path=/; HttpOnly; Secure; SameSite=Lax`);
    p.forEach((x) => (x.available = false));
    expect(b.pick(ctx, p)).to.equal(undefined);
  });

  it('builds Set-Cookie from the config and validates the name and secret', () => {
    expect(buildStickyCookie('S', 'v')).to.equal('S=v; Path=/; HttpOnly; Secure; SameSite=Lax');
    expect(buildStickyCookie('S', 'v', { secure: false, http_only: false, same_site: 'Strict' })).to.equal('S=v; Path=/; SameSite=Strict');
    expect(new CookieSticky({ ...opts, secure: false }).setCookie('u')).to.match(/^GH_SERVER_ID=[\w-]{22}; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(() => new CookieSticky({ ...opts, cookie: 'bad name' })).to.throw(/cookie name/);
    expect(() => new CookieSticky({ ...opts, secret: '' })).to.throw(/secret/);
  });
});
