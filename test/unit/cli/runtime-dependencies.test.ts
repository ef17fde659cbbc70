/**
 * What the proxy imports at run time must be installed by `npm install --omit=dev` too: every package
 * src/ and bin/ import is a dependency. (The Node runtime itself is the `node` devDependency that npm
 * scripts run on; it is not imported.)
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*'([^']+)'|import\(\s*'([^']+)'\s*\)|^import\s+'([^']+)'/gm;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|js|mjs)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

describe('runtime dependencies', () => {
  it('src/ and bin/ import only node: modules, their own files and packages listed in dependencies', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    const imported = new Map<string, string>();
    for (const file of [...sources('src'), ...sources('bin')]) {
      for (const m of readFileSync(file, 'utf8').matchAll(SPECIFIER)) {
        const spec = m[1] ?? m[2] ?? m[3]!;
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        imported.set(packageOf(spec), file);
      }
    }
    expect(imported.size, 'the scan finds the packages src imports').to.be.greaterThan(5);
    const missing = [...imported].filter(([name]) => !(name in pkg.dependencies)).map(([name, file]) => `${name} (${file})`);
    expect(missing).to.deep.equal([]);
  });
});
