import type { Balancer } from './balancer.js';
import { ConsistentHashBalancer } from './consistent-hash.js';
import { IpHashBalancer } from './ip-hash.js';
import { LeastConnBalancer } from './least-conn.js';
import { LeastTimeBalancer } from './least-time.js';
import { RandomTwoBalancer } from './random-two.js';
import { RoundRobinBalancer } from './round-robin.js';
import { WeightedRoundRobinBalancer } from './weighted-round-robin.js';
import { BALANCER_NAMES, type BalancerName } from '../../config/balancer-names.js';

export interface BalancerOptions {
  /** consistent_hash only: `ip | header:NAME | cookie:NAME | path`. Default `ip`. */
  readonly hashKey?: string;
  /** Injected randomness for deterministic tests. Default Math.random. */
  readonly random?: () => number;
}

/** A new balancer of the named policy. Throws on an unknown name or an invalid `hashKey` (config errors). */
export function createBalancer(name: BalancerName, opts: BalancerOptions = {}): Balancer {
  const random = opts.random ?? Math.random;
  switch (name) {
    case 'round_robin': return new RoundRobinBalancer();
    case 'weighted_round_robin': return new WeightedRoundRobinBalancer();
    case 'least_conn': return new LeastConnBalancer(random);
    case 'ip_hash': return new IpHashBalancer();
    case 'consistent_hash': return new ConsistentHashBalancer(opts.hashKey ?? 'ip');
    case 'least_time': return new LeastTimeBalancer(random);
    case 'random_two': return new RandomTwoBalancer(random);
    default: {
      const unknown: never = name;
      throw new Error(`unknown balancer ${JSON.stringify(unknown)}; expected one of ${BALANCER_NAMES.join(', ')}`);
    }
  }
}
