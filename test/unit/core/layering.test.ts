import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';

const FEATURES = ['reverse', 'forward', 'cache', 'plugins', 'tcp', 'tls', 'admin', 'cli', 'cluster', 'demo', 'shared'];

describe('core: layering', () => {
  it('no file in src/core imports a feature folder (features declare their request fields as RequestSlots)', () => {
    const dir = new URL('../../../src/core/', import.meta.url);
    const offenders: string[] = [];
    for (const file of readdirSync(dir, { recursive: true }) as string[]) {
      if (!file.endsWith('.ts')) continue;
      for (const m of readFileSync(new URL(file, dir), 'utf8').matchAll(/(?:from|import)\s*\(?\s*'\.\.\/([\w-]+)\//g)) {
        if (FEATURES.includes(m[1]!)) offenders.push(`${file} → ${m[1]}`);
      }
    }
    expect(offenders).to.deep.equal([]);
  });
});
