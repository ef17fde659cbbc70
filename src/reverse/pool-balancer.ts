/** The balancer a pool's config asks for: the policy from the factory, wrapped by stickiness when configured. */
import { createHmac } from 'node:crypto';
import type { Balancer } from './balancers/balancer.js';
import { createBalancer } from './balancers/factory.js';
import { CookieSticky, CookieStickyBalancer } from './sticky/cookie-sticky.js';
import { IpStickyBalancer, type StickyStore } from './sticky/ip-sticky.js';
import type { PoolConfig } from '../config/types.js';

export interface PoolBalancer {
  balancer: Balancer;
  /** Set in cookie mode: signs the cookie the proxy stage sends with each response. */
  sticky?: CookieSticky;
  /** Set in ip mode. */
  ipSticky?: IpStickyBalancer;
}

/**
 * The key sticky cookies are signed with. An empty `sticky.secret` derives one from node_id and the
 * pool name, so values survive restarts and match on nodes sharing node_id; it is only as secret
 * as those names, which is why a configured secret is preferred.
 */
function stickySecret(cfg: PoolConfig, poolName: string, nodeId: string): string {
  if (cfg.sticky?.secret) return cfg.sticky.secret;
  return createHmac('sha256', `gatehouse-sticky-key\0${nodeId}`).update(poolName).digest('base64url');
}

export function createPoolBalancer(cfg: PoolConfig, poolName = '', nodeId = '', stickyStore?: StickyStore): PoolBalancer {
  const base = createBalancer(cfg.balance, { hashKey: cfg.hash_key });
  const sticky = cfg.sticky;
  if (!sticky) return { balancer: base };
  if (sticky.mode === 'ip') {
    const ipSticky = new IpStickyBalancer(base, { store: stickyStore });
    return { balancer: ipSticky, ipSticky };
  }
  const signer = new CookieSticky({
    secret: stickySecret(cfg, poolName, nodeId), cookie: sticky.cookie,
    secure: sticky.secure, http_only: sticky.http_only, same_site: sticky.same_site,
  });
  return { balancer: new CookieStickyBalancer(base, signer), sticky: signer };
}
