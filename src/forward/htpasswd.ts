/**
 * The `auth.users_file` of a forward listener: an Apache htpasswd file (`user:hash` per line,
 * `#` comments; formats in password-hash.ts), re-read when it changes.
 *
 * Successful verifications are remembered for `cacheTtlMs` (default 60 s) under
 * sha256(user, password, stored hash), so authenticated traffic pays bcrypt once a minute rather
 * than per request, and a changed password in the file never matches an old entry. Failures are
 * not cached. Concurrent checks of the same credentials share one hash computation.
 */

import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { hashFormat, verifyPassword, type DesCrypt } from './password-hash.js';
import { WatchedFile, type UnitLog } from './watched-file.js';

export interface HtpasswdUsers {
  /** user → stored hash; the first line for a user wins, as in Apache. */
  readonly users: ReadonlyMap<string, string>;
  /** `file:line: message` for lines that were skipped. */
  readonly warnings: readonly string[];
}

/** Parses htpasswd text. Never throws: bad lines are skipped with a warning. */
export function parseHtpasswd(text: string, source = 'htpasswd'): HtpasswdUsers {
  const users = new Map<string, string>();
  const warnings: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    // Apache's mod_authn_file reads the hash up to the next ':'; extra fields are ignored.
    const user = colon < 0 ? '' : line.slice(0, colon);
    const hash = colon < 0 ? '' : line.slice(colon + 1).split(':')[0]!;
    if (user === '' || hash === '') return void warnings.push(`${source}:${i + 1}: expected user:hash`);
    if (users.has(user)) return void warnings.push(`${source}:${i + 1}: duplicate user ${JSON.stringify(user)} ignored`);
    users.set(user, hash);
  });
  return { users, warnings };
}

export type AuthFailure = 'unknown_user' | 'bad_password' | 'unsupported_hash';
export type AuthResult = { readonly ok: true; readonly cached: boolean } | { readonly ok: false; readonly reason: AuthFailure };

export interface HtpasswdOptions {
  readonly log?: UnitLog;
  /** How long a successful check is remembered, ms. Default 60 000; 0 disables the cache. */
  readonly cacheTtlMs?: number;
  /** Most remembered credentials. Default 10 000. */
  readonly cacheMax?: number;
  /** DES crypt(3) implementation; see password-hash.ts. */
  readonly desCrypt?: DesCrypt | null;
  /** Follow file changes with fs.watch. Default true. */
  readonly watch?: boolean;
  /** Clock for the cache (tests). Default performance.now. */
  readonly now?: () => number;
}

// Verified against when the user does not exist, so an unknown name costs about what a wrong
// password does (apr1 is htpasswd's default format). Password: a fixed random string.
const DUMMY_HASH = '$apr1$Gh1dummy$Rw3q7nYk6X0m7bJr0mQ0N/';

export class HtpasswdFile {
  readonly #file: WatchedFile<HtpasswdUsers>;
  readonly #opts: HtpasswdOptions;
  readonly #cache: LRUCache<string, true> | undefined;
  readonly #inflight = new Map<string, Promise<{ ok: boolean; unsupported?: string }>>();
  readonly #warnedUnsupported = new Set<string>();

  private constructor(file: WatchedFile<HtpasswdUsers>, opts: HtpasswdOptions) {
    this.#file = file;
    this.#opts = opts;
    const ttl = opts.cacheTtlMs ?? 60_000;
    if (ttl > 0) {
      this.#cache = new LRUCache<string, true>({
        max: opts.cacheMax ?? 10_000, ttl, ...(opts.now ? { perf: { now: opts.now } } : {}),
      });
    }
  }

  /** Loads the file; rejects when it cannot be read. Logs skipped lines and hashes it cannot check. */
  static async open(path: string, opts: HtpasswdOptions = {}): Promise<HtpasswdFile> {
    let self: HtpasswdFile | undefined;
    const file = await WatchedFile.open(path, {
      parse: (text) => parseHtpasswd(text, path),
      log: opts.log,
      watch: opts.watch,
      onReload: (users) => {
        if (self) self.#loaded(users);
      },
    });
    self = new HtpasswdFile(file, opts);
    self.#loaded(file.value);
    return self;
  }

  /** Number of users in the file. */
  get size(): number {
    return this.#file.value.users.size;
  }

  has(user: string): boolean {
    return this.#file.value.users.has(user);
  }

  /** Checks Basic credentials. Never throws. The caller logs failures (user, client IP; never the password). */
  async verify(user: string, password: string): Promise<AuthResult> {
    this.#file.poll();
    const hash = this.#file.value.users.get(user);
    if (hash === undefined) {
      await verifyPassword(password, DUMMY_HASH);
      return { ok: false, reason: 'unknown_user' };
    }
    const key = createHash('sha256').update(user).update('\0').update(password).update('\0').update(hash).digest('base64');
    if (this.#cache?.get(key)) return { ok: true, cached: true };
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = verifyPassword(password, hash, { desCrypt: this.#opts.desCrypt }).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    const check = await pending;
    if (check.unsupported) {
      this.#warnUnsupported(user, check.unsupported);
      return { ok: false, reason: 'unsupported_hash' };
    }
    if (!check.ok) return { ok: false, reason: 'bad_password' };
    this.#cache?.set(key, true);
    return { ok: true, cached: false };
  }

  /** Re-reads the file now if it changed on disk. */
  reload(): Promise<boolean> {
    return this.#file.refresh();
  }

  close(): void {
    this.#file.close();
  }

  #loaded(users: HtpasswdUsers): void {
    this.#cache?.clear();
    this.#warnedUnsupported.clear();
    for (const w of users.warnings) this.#opts.log?.warn({ file: this.#file.path }, w);
    for (const [user, hash] of users.users) {
      if (hashFormat(hash) === 'unknown') this.#warnUnsupported(user, 'unknown hash format (plain-text passwords are not accepted)');
    }
  }

  #warnUnsupported(user: string, why: string): void {
    if (this.#warnedUnsupported.has(user)) return;
    this.#warnedUnsupported.add(user);
    this.#opts.log?.warn({ user, reason: why }, 'htpasswd entry cannot be verified; the user cannot log in');
  }
}
