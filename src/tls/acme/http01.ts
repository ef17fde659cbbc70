/**
 * HTTP-01 answers (RFC 8555 §8.3): `GET /.well-known/acme-challenge/TOKEN` on a plain listener returns the
 * key authorization. Tokens live in memory and as files under each ACME directory's `challenges/`, so every
 * worker (and every instance sharing the directory) answers, whichever one placed the order.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export class Http01Responder {
  readonly #tokens = new Map<string, string>();
  /** ACME directories whose `challenges/` are searched for tokens placed by other processes. */
  #dirs: readonly string[] = [];

  setDirectories(dirs: readonly string[]): void { this.#dirs = [...new Set(dirs)]; }

  /** Publishes a token, in memory and in `dir/challenges/`. */
  add(dir: string, token: string, keyAuthorization: string): void {
    if (!TOKEN.test(token)) throw new Error(`ACME token ${JSON.stringify(token)} is not base64url`);
    this.#tokens.set(token, keyAuthorization);
    mkdirSync(join(dir, 'challenges'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'challenges', token), keyAuthorization, { mode: 0o600 });
  }

  remove(dir: string, token: string): void {
    this.#tokens.delete(token);
    if (TOKEN.test(token)) rmSync(join(dir, 'challenges', token), { force: true });
  }

  /** The key authorization for a token, or undefined. */
  lookup(token: string): string | undefined {
    if (!TOKEN.test(token)) return undefined;
    const known = this.#tokens.get(token);
    if (known !== undefined) return known;
    for (const dir of this.#dirs) {
      try { return readFileSync(join(dir, 'challenges', token), 'utf8'); } catch { /* not in this one */ }
    }
    return undefined;
  }

  /** Whether the request is a challenge we hold; answers it when so. Unknown tokens go on to the routes. */
  answer(req: IncomingMessage, res: ServerResponse): boolean {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !req.url?.startsWith(CHALLENGE_PREFIX)) return false;
    const value = this.lookup(req.url.slice(CHALLENGE_PREFIX.length));
    if (value === undefined) return false;
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(value), 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : value);
    return true;
  }
}
