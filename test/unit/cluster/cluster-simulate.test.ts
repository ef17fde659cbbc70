import { expect } from 'chai';
import type { Worker } from 'node:cluster';
import { ClusterAdminTarget } from '../../../src/cluster/cluster-target.js';
import type { CallResult, WorkerCall } from '../../../src/cluster/ipc.js';
import type { Supervisor } from '../../../src/cluster/supervisor.js';

/** A supervisor whose running workers (by id) answer every call with their own id, and notes who was asked. */
function supervisorOf(running: number[]): { supervisor: Supervisor; asked: number[] } {
  const asked: number[] = [];
  const workers = running.map((id) => ({ id, process: { pid: 1000 + id } }) as unknown as Worker);
  const answer = (worker: Worker): CallResult => { asked.push(worker.id); return { worker, ok: true, value: [200, { worker: worker.id }] }; };
  const supervisor = {
    running: workers,
    restarts: 0,
    call: async (worker: Worker, _call: WorkerCall, _timeoutMs: number) => answer(worker),
    broadcast: async (_call: WorkerCall, _timeoutMs: number) => workers.map(answer),
  } as unknown as Supervisor;
  return { supervisor, asked };
}

describe('cluster: simulate', () => {
  it('is asked of one worker only (it may resolve names: the others must not repeat it)', async () => {
    const { supervisor, asked } = supervisorOf([1, 2]);
    const target = new ClusterAdminTarget(supervisor, async () => [200, {}]);
    expect(await target.simulate({ method: 'GET', url: 'http://example.test/' })).to.deep.equal([200, { worker: 1 }]);
    expect(asked).to.deep.equal([1]);
  });

  it('answers 503 when no worker is running', async () => {
    const { supervisor, asked } = supervisorOf([]);
    const target = new ClusterAdminTarget(supervisor, async () => [200, {}]);
    expect(await target.simulate({})).to.deep.equal([503, { error: 'no worker is running' }]);
    expect(asked).to.deep.equal([]);
  });
});
