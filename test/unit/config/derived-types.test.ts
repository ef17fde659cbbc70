import { expect } from 'chai';
import { buildConfig } from '../../../src/config/load.js';
import { listSections, topSchema } from '../../../src/config/schema.js';
import type {
  AclMatch, GatehouseConfig, Http2Options, Limits, PluginEntry, PoolConfig, ReverseListener, Route,
} from '../../../src/config/types.js';
import { BALANCER_NAMES, type BalancerName } from '../../../src/config/balancer-names.js';

// Type-level checks: `npm test` runs tsc first, so a wrong derivation fails the suite before mocha starts.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
type Assert<T extends true> = T;
export type Checks = [
  Assert<Equal<PoolConfig['balance'], BalancerName>>,
  Assert<Equal<Limits['max_body_size'], number>>,
  Assert<Equal<Limits['per_ip_exempt'], string[]>>,
  Assert<Equal<GatehouseConfig['plugins']['cpu_limit'], number>>,
  Assert<Equal<GatehouseConfig['log']['level'], 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'>>,
  Assert<Equal<GatehouseConfig['pools'], Record<string, PoolConfig>>>,
  Assert<Equal<Route['name'], string>>,
  Assert<Equal<Route['pool'], string | undefined>>,
  Assert<Equal<ReverseListener['http2'], Http2Options | false>>,
  Assert<Equal<ReverseListener['limits'], Limits>>,
  Assert<Equal<AclMatch['dst_port'], (number | string)[] | undefined>>,
  Assert<Equal<Exclude<PluginEntry, string>['on_error'], 'fail_closed' | 'fail_open' | undefined>>,
];
// @ts-expect-error a key the schema does not have is not in the type either
export type NoSuchKey = GatehouseConfig['limits']['max_body_sise'];

/** Every key path of a convict schema node. */
function topKeys(node: object, prefix = ''): string[] {
  return Object.entries(node).flatMap(([k, v]) => ('format' in v && 'default' in v ? [prefix + k] : topKeys(v as object, `${prefix}${k}.`)));
}
function valueKeys(value: object, prefix = ''): string[] {
  return Object.entries(value).flatMap(([k, v]) =>
    (typeof v === 'object' && v !== null && !Array.isArray(v) ? valueKeys(v as object, `${prefix}${k}.`) : [prefix + k]));
}

describe('config: types derived from the schema', () => {
  it('a loaded config has every top-level key the types promise, with units converted', () => {
    const cfg = buildConfig({});
    const { forward, reverse, tcp, pools, ...top } = cfg;
    expect(valueKeys(top).sort()).to.deep.equal(topKeys(topSchema).sort());
    expect(Object.keys({ forward, reverse, tcp, pools })).to.deep.equal(Object.keys(listSections));
    expect(cfg.plugins.cpu_limit).to.equal(50);
    expect(cfg.limits.max_header_size).to.equal(16 * 1024);
  });

  it('the schema accepts exactly the balancers the factory builds', () => {
    const pool = (balance: string) => ({ pools: { p: { balance, upstreams: [{ url: 'http://127.0.0.1:1' }] } } });
    for (const name of BALANCER_NAMES) expect(buildConfig(pool(name)).pools.p!.balance).to.equal(name);
    expect(() => buildConfig(pool('fastest'))).to.throw(/pools\.p\.balance: must be one of round_robin, /);
  });
});
