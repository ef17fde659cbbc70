import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import { CallTracker } from '../../../src/cluster/ipc.js';

/**
 * A worker whose IPC channel has just closed, sending as node's ChildProcess does then: the error goes
 * to the callback when one is given, else it is emitted on the worker ('error' with no listener throws).
 */
function deadWorker(): Worker {
  const w = new EventEmitter() as EventEmitter & { id: number; send: (m: unknown, h?: unknown, cb?: (e: Error | null) => void) => boolean };
  w.id = 7;
  w.send = (_m, _h, cb) => {
    const err = new Error('Channel closed');
    if (cb) process.nextTick(cb, err);
    else process.nextTick(() => w.emit('error', err));
    return false;
  };
  return w as unknown as Worker;
}

describe('cluster: calls to workers', () => {
  it('a call to a worker whose channel just closed fails as a value, and nothing is thrown in the primary', async () => {
    const r = await new CallTracker().call(deadWorker(), { op: 'status' } as never, 5000);
    expect(r).to.deep.include({ ok: false });
    expect((r as { error: string }).error).to.match(/worker 7: Channel closed/);
  });
});
