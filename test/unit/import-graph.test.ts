/**
 * The direction of imports inside src/: no cycles (type-only imports count: they couple files too),
 * config/ at the bottom, cli/ at the top, and gateway.ts (the composition root) imported only by what
 * runs a process.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const SPECIFIER = /(?:import|export)\s[^'"]*?from\s*'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g;

/** src-relative path → the src-relative paths it imports. */
function importGraph(): Map<string, string[]> {
  const files = readdirSync('src', { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative('src', join(e.parentPath, e.name)));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join('src', file), 'utf8');
    const targets = [...text.matchAll(SPECIFIER)].map((m) => join(dirname(file), (m[1] ?? m[2]!).replace(/\.js$/, '.ts')));
    graph.set(file, targets.filter((t) => files.includes(t)));
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    path.push(f);
    for (const t of graph.get(f) ?? []) {
      if (state.get(t) === 'open') found.push([...path.slice(path.indexOf(t)), t]);
      else if (!state.has(t)) visit(t);
    }
    path.pop();
    state.set(f, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

describe('import graph of src/', () => {
  const graph = importGraph();
  const edges = [...graph].flatMap(([from, tos]) => tos.map((to) => ({ from, to })));

  it('finds the files and their imports', () => {
    expect(graph.size).to.be.greaterThan(100);
    expect(graph.get('gateway.ts')).to.include('admin/gateway-target.ts');
  });

  it('has no import cycle', () => {
    expect(cycles(graph).map((c) => c.join(' → '))).to.deep.equal([]);
  });

  it('config/ imports nothing above it; nothing but cli/ imports cli/; gateway.ts is imported only by cli/ and cluster/', () => {
    const layer = (f: string) => f.split('/')[0]!;
    const wrong = edges.filter(({ from, to }) =>
      (layer(from) === 'config' && layer(to) !== 'config')
      || (layer(to) === 'cli' && layer(from) !== 'cli')
      || (to === 'gateway.ts' && !['cli', 'cluster'].includes(layer(from))));
    expect(wrong.map(({ from, to }) => `${from} → ${to}`)).to.deep.equal([]);
  });
});
