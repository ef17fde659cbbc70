import { createHmac, timingSafeEqual } from 'node:crypto';
import { peekOf, type Balancer, type BalancerUpstream, type PickContext } from '../balancers/balancer.js';
import { readCookie } from '../balancers/request-key.js';

/** Config `pools.*.sticky` for cookie mode, plus the signing secret. */
export interface StickyCookieOptions {
  /** HMAC key. Same secret + same upstream id → same cookie value, across restarts and nodes. */
  readonly secret: string | Buffer;
  /** Cookie name, e.g. `GH_SERVER_ID`. */
  readonly cookie: string;
  /** Add `Secure`. Default true. */
  readonly secure?: boolean;
  /** Add `HttpOnly`. Default true. */
  readonly http_only?: boolean;
  /** `SameSite` attribute. Default `Lax`. Browsers drop `None` without `Secure`. */
  readonly same_site?: 'Strict' | 'Lax' | 'None';
}

const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TOKEN_BYTES = 16; // 128 bits of HMAC: unguessable, short in the header
const MAX_CACHED = 4096;

/**
 * Signs and verifies sticky-cookie values. A value is base64url(HMAC-SHA256(secret, id))[:128 bit]:
 * opaque (never the address), stable for a given secret and upstream id, unforgeable without
 * the secret. Verification compares in constant time against each pool member's token.
 */
export class CookieSticky {
  readonly name: string;
  readonly #secret: Buffer;
  readonly #attributes: string;
  readonly #tokens = new Map<string, Buffer>();

  constructor(opts: StickyCookieOptions) {
    if (!COOKIE_NAME.test(opts.cookie)) throw new Error(`sticky.cookie: invalid cookie name ${JSON.stringify(opts.cookie)}`);
    this.#secret = Buffer.isBuffer(opts.secret) ? opts.secret : Buffer.from(opts.secret, 'utf8');
    if (this.#secret.length === 0) throw new Error('sticky: secret must not be empty');
    this.name = opts.cookie;
    this.#attributes = cookieAttributes(opts);
  }

  /** The cookie value for an upstream id. */
  encode(upstreamId: string): string {
    return this.#token(upstreamId).toString('base64url');
  }

  /** The pool member a cookie value names, or undefined for missing, malformed or forged values. Ignores availability. */
  decode(value: string | undefined, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    if (!value || value.length > 64) return undefined;
    const given = Buffer.from(value, 'base64url');
    // base64url decoding is lenient; insist on the canonical form so only one spelling is valid
    if (given.length !== TOKEN_BYTES || given.toString('base64url') !== value) return undefined;
    for (const u of pool) if (timingSafeEqual(given, this.#token(u.id))) return u;
    return undefined;
  }

  /** `Set-Cookie` header value pinning the client to this upstream. */
  setCookie(upstreamId: string): string {
    return `${this.name}=${this.encode(upstreamId)}${this.#attributes}`;
  }

  /**
   * The `Set-Cookie` value to send with a response served by `upstream`, or undefined when the
   * request already carries the right cookie. Call it with the upstream that finally answered
   * (after retries), so failover rewrites the cookie.
   */
  setCookieFor(ctx: PickContext, upstream: BalancerUpstream): string | undefined {
    const have = readCookie(ctx.headers, this.name);
    const want = this.encode(upstream.id);
    return have === want ? undefined : `${this.name}=${want}${this.#attributes}`;
  }

  #token(id: string): Buffer {
    let t = this.#tokens.get(id);
    if (!t) {
      if (this.#tokens.size >= MAX_CACHED) this.#tokens.clear();
      t = createHmac('sha256', this.#secret).update('gatehouse-sticky-v1\0').update(id).digest().subarray(0, TOKEN_BYTES);
      this.#tokens.set(id, t);
    }
    return t;
  }
}

/** Builds `NAME=value; Path=/; HttpOnly; Secure; SameSite=Lax` from the sticky config. */
export function buildStickyCookie(name: string, value: string, opts: Omit<StickyCookieOptions, 'secret' | 'cookie'> = {}): string {
  return `${name}=${value}${cookieAttributes(opts)}`;
}

function cookieAttributes(opts: Omit<StickyCookieOptions, 'secret' | 'cookie'>): string {
  let s = '; Path=/';
  if (opts.http_only ?? true) s += '; HttpOnly';
  if (opts.secure ?? true) s += '; Secure';
  s += `; SameSite=${opts.same_site ?? 'Lax'}`;
  return s;
}

/**
 * Cookie stickiness around a fallback balancer (Caddy's cookie policy): a valid cookie naming an
 * available upstream wins; a missing, forged or stale cookie, or one naming an unavailable
 * upstream, goes to the fallback. The caller then asks `sticky.setCookieFor` whether to (re)set it.
 */
export class CookieStickyBalancer implements Balancer {
  readonly #fallback: Balancer;
  readonly sticky: CookieSticky;

  constructor(fallback: Balancer, sticky: CookieSticky) {
    this.#fallback = fallback;
    this.sticky = sticky;
  }

  pick(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const u = this.sticky.decode(readCookie(ctx.headers, this.sticky.name), pool);
    return u?.available ? u : this.#fallback.pick(ctx, pool);
  }

  peek(ctx: PickContext, pool: readonly BalancerUpstream[]): BalancerUpstream | undefined {
    const u = this.sticky.decode(readCookie(ctx.headers, this.sticky.name), pool);
    return u?.available ? u : peekOf(this.#fallback, ctx, pool);
  }
}
