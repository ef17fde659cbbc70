/** The balancer a pool's config asks for. */
import type { Balancer } from './balancers/balancer.js';
import { RoundRobinBalancer } from './balancers/round-robin.js';
import type { PoolConfig } from '../config/types.js';

export function createPoolBalancer(cfg: PoolConfig): Balancer {
  switch (cfg.balance) {
    case 'round_robin': return new RoundRobinBalancer();
    default: return new RoundRobinBalancer(); // replaced when the balancer units land
  }
}
