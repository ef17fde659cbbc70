/**
 * A parsed file that follows its changes on disk: fs.watch on the parent directory (editors and
 * `htpasswd` replace files by rename, which a watch on the file itself would miss), plus a
 * throttled stat on use for file systems where fs.watch is silent. A reload that fails keeps the
 * previous content serving and is logged.
 */

import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** The slice of a pino logger the forward units use. */
export interface UnitLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WatchedFileOptions<T> {
  readonly parse: (text: string) => T;
  readonly log?: UnitLog;
  /** Watch the directory for changes. Default true. */
  readonly watch?: boolean;
  /** `poll()` stats the file at most this often, in ms. Default 2000. */
  readonly minCheckIntervalMs?: number;
  /** Called after each successful reload (not the first load). */
  readonly onReload?: (value: T) => void;
}

const signature = (s: { mtimeMs: number; ctimeMs: number; size: number; ino: number }) => `${s.mtimeMs}:${s.ctimeMs}:${s.size}:${s.ino}`;

export class WatchedFile<T> {
  readonly path: string;
  #value: T;
  #signature: string;
  #opts: WatchedFileOptions<T>;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #lastCheck = 0;
  #refreshing: Promise<boolean> | undefined;

  private constructor(path: string, value: T, sig: string, opts: WatchedFileOptions<T>) {
    this.path = path;
    this.#value = value;
    this.#signature = sig;
    this.#opts = opts;
    this.#lastCheck = Date.now();
    if (opts.watch !== false) this.#startWatch();
  }

  /** Reads and parses the file; rejects when it cannot be read or parsed. */
  static async open<T>(path: string, opts: WatchedFileOptions<T>): Promise<WatchedFile<T>> {
    const s = await stat(path);
    const value = opts.parse(await readFile(path, 'utf8'));
    return new WatchedFile(path, value, signature(s), opts);
  }

  get value(): T {
    return this.#value;
  }

  /** Re-reads the file when its stat changed. Resolves true when new content was loaded. */
  refresh(): Promise<boolean> {
    this.#refreshing ??= this.#doRefresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  /** Cheap per-use hook: starts a background `refresh()` if the last check is old enough. */
  poll(): void {
    const now = Date.now();
    if (now - this.#lastCheck < (this.#opts.minCheckIntervalMs ?? 2000)) return;
    this.#lastCheck = now;
    void this.refresh();
  }

  close(): void {
    clearTimeout(this.#debounce);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  async #doRefresh(): Promise<boolean> {
    this.#lastCheck = Date.now();
    try {
      const s = await stat(this.path);
      const sig = signature(s);
      if (sig === this.#signature) return false;
      const value = this.#opts.parse(await readFile(this.path, 'utf8'));
      this.#value = value;
      this.#signature = sig;
      this.#opts.log?.info({ file: this.path }, 'file reloaded');
      this.#opts.onReload?.(value);
      return true;
    } catch (err) {
      this.#opts.log?.error({ file: this.path, err }, 'file reload failed; keeping the previous content');
      return false;
    }
  }

  #startWatch(): void {
    const name = basename(this.path);
    try {
      this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, filename) => {
        if (filename !== null && filename !== name) return;
        clearTimeout(this.#debounce);
        // Writers often truncate then write: wait for the burst to settle before reading.
        this.#debounce = setTimeout(() => void this.refresh(), 50);
        this.#debounce.unref();
      });
      this.#watcher.on('error', (err) => {
        this.#opts.log?.warn({ file: this.path, err }, 'file watch failed; falling back to stat on use');
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      this.#opts.log?.warn({ file: this.path, err }, 'file watch unavailable; falling back to stat on use');
    }
  }
}
