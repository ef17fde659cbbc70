import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineWriter } from '../../../src/observability/line-writer.js';

describe('LineWriter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-lw-'));
  const flushed = (w: LineWriter) => new Promise<void>((r) => w.flush(() => r()));

  it('buffers lines and writes them all, in order, by flush time', async () => {
    const file = join(dir, 'a.log');
    const w = new LineWriter(file, { flushAt: 100 });
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i}\n`);
    for (const l of lines) w.write(l);
    await flushed(w);
    expect(readFileSync(file, 'utf8')).to.equal(lines.join(''));
  });

  it('writes on its timer without an explicit flush', async () => {
    const file = join(dir, 'b.log');
    const w = new LineWriter(file, { flushMs: 20 });
    w.write('soon\n');
    expect(readFileSync(file, 'utf8')).to.equal('');
    // the timer fires after 20 ms; a loaded machine may run it much later
    for (const end = Date.now() + 15_000; readFileSync(file, 'utf8') === '' && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
    expect(readFileSync(file, 'utf8')).to.equal('soon\n');
  });

  it('drops and counts lines past maxBuffered instead of growing without bound', async () => {
    const file = join(dir, 'c.log');
    const w = new LineWriter(file, { flushAt: 1 << 20, maxBuffered: 20 });
    expect(w.write('0123456789\n')).to.equal(true);
    expect(w.write('0123456789\n')).to.equal(false);
    expect(w.dropped).to.equal(1);
    w.end();
    expect(readFileSync(file, 'utf8')).to.equal('0123456789\n');
  });

  it('with atomicChunk, every write is whole lines of at most that many bytes', async () => {
    const file = join(dir, 'd.log');
    const w = new LineWriter(file, { flushAt: 10, atomicChunk: 64 });
    const lines = Array.from({ length: 50 }, (_, i) => `${'x'.repeat(i % 30)} ${i}\n`);
    for (const l of lines) w.write(l);
    await flushed(w);
    expect(readFileSync(file, 'utf8')).to.equal(lines.join(''));
  });
});
