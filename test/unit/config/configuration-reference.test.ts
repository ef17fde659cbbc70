import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { configurationReference } from '../../../src/config/reference.js';

describe('config: the generated reference', () => {
  it('docs/configuration.md is what `npm run docs` writes from the schema today', () => {
    const file = readFileSync(new URL('../../../docs/configuration.md', import.meta.url), 'utf8');
    expect(file === configurationReference(), 'docs/configuration.md is stale: run `npm run docs`').to.equal(true);
  });

  it('lists top-level keys with their environment names, and the keys of list elements', () => {
    const md = configurationReference();
    expect(md).to.include('| `plugins.cpu_limit` | duration | `"50ms"` | `GATEHOUSE_PLUGINS_CPU_LIMIT` |');
    expect(md).to.include('| `node_id` | string | the host name |');
    expect(md).to.match(/\| `routes\[\]\.match\.path_prefix` \|/);
    expect(md).to.match(/\| `health\.fall` \| integer ≥ 1 \| `2` \|/);
  });
});
