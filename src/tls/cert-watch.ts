/**
 * Watches certificate and key files: fs.watch on their directories (certbot and editors replace files by
 * rename, which a watch on the file would miss), debounced so a cert and key written one after the other
 * give one reload.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface CertWatch { close(): void }

export function watchCertFiles(paths: readonly string[], onChange: () => void, debounceMs = 200): CertWatch {
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) {
    const names = byDir.get(dirname(p)) ?? new Set<string>();
    names.add(basename(p));
    byDir.set(dirname(p), names);
  }
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    try {
      const w = watch(dir, { persistent: false }, (_event, file) => {
        // some platforms give no file name: reload anyway
        if (file && !names.has(file.toString())) return;
        clearTimeout(timer);
        timer = setTimeout(onChange, debounceMs);
      });
      w.on('error', () => w.close());
      watchers.push(w);
    } catch {
      // a directory that cannot be watched: SIGHUP still reloads
    }
  }
  return { close() { clearTimeout(timer); for (const w of watchers) w.close(); } };
}
