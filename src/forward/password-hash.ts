/**
 * Verifies a password against one htpasswd hash, in every format Apache's htpasswd writes:
 * bcrypt `$2y$`/`$2a$`/`$2b$` (bcryptjs), apr1-MD5 `$apr1$` and MD5-crypt `$1$` (apache-md5),
 * `{SHA}` (node:crypto), SHA-256/512-crypt `$5$`/`$6$` (unixcrypt), and crypt(3) DES (13 chars)
 * only when a DES implementation is present: the optional `apache-crypt` package, loaded on
 * first use, or one passed in. Without it a DES hash never verifies and the reason says why.
 * Plain-text entries are refused, as Apache on Unix does. No crypto is implemented here.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import bcrypt from 'bcryptjs';
import { encrypt as shaCrypt } from 'unixcrypt';

// apache-md5 is CommonJS (`module.exports = fn`) but its typings declare an ES default export,
// which nodenext types as `{ default }`; require() gives the function under the right type.
const aprMd5 = createRequire(import.meta.url)('apache-md5') as (password: string, salt?: string) => string;

export type HashFormat = 'bcrypt' | 'apr1' | 'md5-crypt' | 'sha1' | 'sha256-crypt' | 'sha512-crypt' | 'des-crypt' | 'unknown';

/** crypt(3) DES: returns the 13-char hash of `password` with the salt taken from `hash`. */
export type DesCrypt = (password: string, hash: string) => string;

export interface HashCheck {
  readonly ok: boolean;
  /** Set when the hash cannot be checked at all (format unknown or unsupported here). */
  readonly unsupported?: string;
}

const DES = /^[./0-9A-Za-z]{13}$/;

export function hashFormat(hash: string): HashFormat {
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) return 'bcrypt';
  if (hash.startsWith('$apr1$')) return 'apr1';
  if (hash.startsWith('$1$')) return 'md5-crypt';
  if (hash.startsWith('{SHA}')) return 'sha1';
  if (hash.startsWith('$5$')) return 'sha256-crypt';
  if (hash.startsWith('$6$')) return 'sha512-crypt';
  if (DES.test(hash)) return 'des-crypt';
  return 'unknown';
}

/** Constant-time string equality: hashing first makes the lengths equal. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

export interface VerifyOptions {
  /** DES implementation; `null` disables DES; undefined tries the optional `apache-crypt` package. */
  readonly desCrypt?: DesCrypt | null;
}

/** True when `password` matches `hash`. Never throws; a malformed hash just does not match. */
export async function verifyPassword(password: string, hash: string, opts: VerifyOptions = {}): Promise<HashCheck> {
  const format = hashFormat(hash);
  try {
    switch (format) {
      case 'bcrypt':
        return { ok: await bcrypt.compare(password, hash) };
      case 'apr1':
      case 'md5-crypt':
        // apache-md5 hashes "binary" strings; hand it the UTF-8 bytes, as htpasswd hashed them.
        return { ok: safeEqual(aprMd5(Buffer.from(password, 'utf8').toString('latin1'), hash), hash) };
      case 'sha1':
        return { ok: safeEqual(`{SHA}${createHash('sha1').update(password, 'utf8').digest('base64')}`, hash) };
      case 'sha256-crypt':
      case 'sha512-crypt':
        return { ok: safeEqual(shaCrypt(password, hash.slice(0, hash.lastIndexOf('$'))), hash) };
      case 'des-crypt': {
        const des = opts.desCrypt === undefined ? await loadDesCrypt() : opts.desCrypt;
        if (!des) return { ok: false, unsupported: 'crypt(3) DES hash: no DES implementation (install the apache-crypt package, or rehash with htpasswd -B)' };
        return { ok: safeEqual(des(password, hash), hash) };
      }
      default:
        return { ok: false, unsupported: 'unknown hash format (plain-text passwords are not accepted)' };
    }
  } catch {
    return { ok: false, unsupported: `malformed ${format} hash` };
  }
}

let desLoad: Promise<DesCrypt | undefined> | undefined;

/** The optional `apache-crypt` package's DES crypt, or undefined when it is not installed. Loaded once. */
export function loadDesCrypt(): Promise<DesCrypt | undefined> {
  desLoad ??= (async () => {
    const name = 'apache-crypt'; // a variable, so the compiler does not require the optional package
    try {
      const mod = (await import(name)) as { default?: unknown };
      return typeof mod.default === 'function' ? (mod.default as DesCrypt) : undefined;
    } catch {
      return undefined;
    }
  })();
  return desLoad;
}
