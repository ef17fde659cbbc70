import { expect } from 'chai';
import { foldReplies } from '../../../src/cluster/cluster-target.js';
import type { AdminReply } from '../../../src/admin/admin-target.js';

describe('cluster: one answer from the workers\' answers to a change', () => {
  const added: AdminReply = [201, { pool: 'app', url: 'http://10.0.0.1:80', weight: 1 }];

  it('a change one worker applied and another already had from the fleet answers what was applied', () => {
    expect(foldReplies('addUpstream', [[409, { error: 'already in pool' }], added])).to.deep.equal(added);
    const drained: AdminReply = [200, { pool: 'app', removed: 'http://10.0.0.1:80' }];
    expect(foldReplies('drainUpstream', [drained, [404, { error: 'no upstream' }]])).to.deep.equal(drained);
  });

  it('a change every worker refused answers the first refusal', () => {
    expect(foldReplies('addUpstream', [[400, { error: 'url: bad' }], [400, { error: 'url: bad' }]])).to.deep.equal([400, { error: 'url: bad' }]);
  });

  it('purge counts add up; a failed worker fails the purge', () => {
    expect(foldReplies('purge', [[200, { purged: 2 }], [200, { purged: 3 }]])).to.deep.equal([200, { purged: 5 }]);
    expect(foldReplies('purge', [[200, { purged: 2 }], [502, { error: 'gone' }]])).to.deep.equal([502, { error: 'gone' }]);
  });
});
