/**
 * Optional groups file for ACL `group` conditions, in Apache's AuthGroupFile format:
 * `group: user1 user2 …` per line, `#` comments; a group may span several lines (members add up).
 * Re-read when it changes, like the users file. Membership is by user name: a group lists users
 * of the htpasswd file, and the ACL sees the groups of the authenticated user only.
 */

import { WatchedFile, type UnitLog } from './watched-file.js';

export interface Htgroups {
  /** user → the groups it belongs to. */
  readonly byUser: ReadonlyMap<string, ReadonlySet<string>>;
  readonly warnings: readonly string[];
}

const NONE: ReadonlySet<string> = new Set();

/** Parses htgroup text. Never throws: bad lines are skipped with a warning. */
export function parseHtgroup(text: string, source = 'htgroup'): Htgroups {
  const byUser = new Map<string, Set<string>>();
  const warnings: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const group = colon < 0 ? '' : line.slice(0, colon).trim();
    if (group === '' || /\s/.test(group)) return void warnings.push(`${source}:${i + 1}: expected "group: user1 user2"`);
    for (const user of line.slice(colon + 1).split(/\s+/)) {
      if (user === '') continue;
      let set = byUser.get(user);
      if (!set) byUser.set(user, (set = new Set()));
      set.add(group);
    }
  });
  return { byUser, warnings };
}

export class HtgroupFile {
  readonly #file: WatchedFile<Htgroups>;

  private constructor(file: WatchedFile<Htgroups>) {
    this.#file = file;
  }

  /** Loads the file; rejects when it cannot be read. */
  static async open(path: string, opts: { log?: UnitLog; watch?: boolean } = {}): Promise<HtgroupFile> {
    const file = await WatchedFile.open(path, {
      parse: (text) => parseHtgroup(text, path),
      log: opts.log,
      watch: opts.watch,
      onReload: (g) => g.warnings.forEach((w) => opts.log?.warn({ file: path }, w)),
    });
    file.value.warnings.forEach((w) => opts.log?.warn({ file: path }, w));
    return new HtgroupFile(file);
  }

  /** Groups of `user` (empty when none). */
  groupsOf(user: string): ReadonlySet<string> {
    this.#file.poll();
    return this.#file.value.byUser.get(user) ?? NONE;
  }

  reload(): Promise<boolean> {
    return this.#file.refresh();
  }

  close(): void {
    this.#file.close();
  }
}
