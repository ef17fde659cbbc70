/** The balancing policies, by config name: the one list the schema, the factory and the types share. */
export const BALANCER_NAMES = [
  'round_robin', 'weighted_round_robin', 'least_conn', 'ip_hash', 'consistent_hash', 'least_time', 'random_two',
] as const;

export type BalancerName = (typeof BALANCER_NAMES)[number];
