import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runPluginTest } from '../../../src/plugins/plugin-test-runner.js';

const DIR = 'plugins/examples';
const examples = readdirSync(DIR).filter((f) => /\.(js|ts)$/.test(f));

describe('plugins/examples: every example passes its cases through the harness', () => {
  it('has the six documented examples, one in TypeScript', () => {
    expect(examples).to.include.members(['block-by-pattern.js', 'maintenance.js', 'canary.ts', 'route-by-ip.js',
      'security-headers.js', 'request-counter.js']);
  });

  for (const file of examples) {
    it(`${file}`, async () => {
      const lines: string[] = [];
      const code = await runPluginTest([join(DIR, file), '--cases', join(DIR, file.replace(/\.(js|ts)$/, '.cases'))], (l) => lines.push(l));
      expect(code, lines.join('\n')).to.equal(0);
      expect(lines.at(-1)).to.match(/^\d+ passed, 0 failed/);
    });
  }
});
