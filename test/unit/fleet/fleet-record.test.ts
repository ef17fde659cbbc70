import { expect } from 'chai';
import pino from 'pino';
import type { HttpCache } from '../../../src/cache/http-cache.js';
import { Fleet, type FleetMember, type PoolChange } from '../../../src/fleet/fleet.js';
import type { FleetMessage, SharedState } from '../../../src/fleet/shared-state.js';

/** A shared state whose link is up or down at will; it keeps what is written and published instead of sending it. */
function sharedState() {
  const written: string[] = [];
  const published: FleetMessage[] = [];
  let resync: () => Promise<void> = async () => {};
  const state = {
    up: true,
    prefix: 'gh:',
    on: () => {},
    onResync: (fn: () => Promise<void>) => { resync = fn; },
    publish: (m: FleetMessage) => { published.push(m); },
    run: async (_op: string, command: (c: { hSet(k: string, f: string, v: string): unknown; hGetAll(k: string): unknown }) => unknown) =>
      command({ hSet: (_k, _f, v) => written.push(v), hGetAll: () => ({}) }),
  };
  return { state, written, published, resync: () => resync() };
}

function member(): FleetMember & { noted: PoolChange[] } {
  const noted: PoolChange[] = [];
  return {
    noted,
    cache: {} as HttpCache,
    pools: new Map(),
    log: pino({ level: 'silent' }),
    noteRuntimeChange: (change) => { noted.push(change); return { ...change }; },
  };
}

describe('fleet: an admin pool change', () => {
  const change: PoolChange = { op: 'add', pool: 'app', url: 'http://10.0.0.1:80', weight: 2 };

  it('is recorded here once, written to Redis and published when the link is up', () => {
    const s = sharedState();
    const m = member();
    new Fleet(s.state as unknown as SharedState, m).announce(change);
    expect(m.noted).to.deep.equal([change]);
    expect(s.written.map((v) => JSON.parse(v) as unknown)).to.deep.equal([change]);
    expect(s.published).to.deep.equal([{ kind: 'pool', ...change }]);
  });

  it('made while Redis is down is recorded once, and sent with that record when the link is back', async () => {
    const s = sharedState();
    const m = member();
    s.state.up = false;
    new Fleet(s.state as unknown as SharedState, m).announce(change);
    expect(s.written).to.deep.equal([]);
    s.state.up = true;
    await s.resync();
    expect(m.noted).to.deep.equal([change]);
    expect(s.written.map((v) => JSON.parse(v) as unknown)).to.deep.equal([change]);
    expect(s.published).to.deep.equal([{ kind: 'pool', ...change }]);
  });
});
