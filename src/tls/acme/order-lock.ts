/**
 * A lock file so that processes sharing one ACME directory (workers, or instances on shared storage)
 * place one order at a time: created with O_EXCL, removed when done, taken over when older than `staleMs`
 * (its holder died mid-order).
 */
import { hostname } from 'node:os';
import { openSync, closeSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const LOCK_FILE = 'order.lock';

/** Takes the lock; returns a release function, or undefined when another process holds it. */
export function tryLock(dir: string, staleMs = 10 * 60_000, now = Date.now()): (() => void) | undefined {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}@${hostname()} ${new Date(now).toISOString()}\n`);
      closeSync(fd);
      let released = false;
      return () => { if (!released) { released = true; rmSync(path, { force: true }); } };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let age: number;
      try { age = now - statSync(path).mtimeMs; } catch { continue; } // removed meanwhile: try again
      if (age < staleMs) return undefined;
      rmSync(path, { force: true });
    }
  }
  return undefined;
}
