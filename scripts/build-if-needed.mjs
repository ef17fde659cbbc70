// Rebuilds dist/ when any file under src/ is newer than the last build, so `npm start` is always current.
// One build at a time: two `npm start`s or test runs may ask at once, and the second must not load a
// half-written dist/. A lock directory serialises them; whoever gets it second finds dist/ current.
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const stamp = 'dist/.built';
const lock = 'dist.lock';
/** A lock older than this was left by a build that died; builds take seconds. */
const STALE_LOCK_MS = 5 * 60_000;

const newest = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
  const p = join(dir, e.name);
  return Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
}, 0);
const stale = () => !existsSync(stamp) || newest('src') > statSync(stamp).mtimeMs;
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

if (stale()) {
  for (;;) {
    try { mkdirSync(lock); break; } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      try { if (Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true }); } catch { /* gone meanwhile */ }
      sleep(200);
    }
  }
  try {
    if (stale()) execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
