// Rebuilds dist/ when any file under src/ is newer than the last build, so `npm start` is always current.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

const stamp = 'dist/.built';
const newest = (dir) => readdirSync(dir, { withFileTypes: true }).reduce((max, e) => {
  const p = join(dir, e.name);
  return Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
}, 0);
if (!existsSync(stamp) || newest('src') > statSync(stamp).mtimeMs) {
  execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
}
