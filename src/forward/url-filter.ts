/**
 * URL patterns that block requests (forward HTTP; CONNECT has no URL, only its host, which the
 * domain block list covers). Compiled once. Entry forms, Squid's vocabulary for the regexes:
 * - `"/ads/*"` or `{ glob: "/ads/*", name }`: a glob over the path (no query). `*` matches any
 *   run of characters including `/`, `?` one character; the whole path must match, so
 *   `/ads/*` is everything under /ads/ and `*.exe` any path ending in .exe. A glob not starting
 *   with `/` is matched against `host/path` (`*.example.com/track*`). Globs ignore case:
 *   a block that `/ADS/` evades is no block.
 * - `{ url_regex: "…", flags?: "i" }`: JS regex over the full URL `scheme://host[:port]/path?query`.
 * - `{ urlpath_regex: "…", flags?: "i" }`: JS regex over `/path?query`.
 * Paths are normalised before matching (core/path.ts): dot segments resolved, `//` merged, `\` read as
 * `/`, `%XX` of unreserved characters decoded (`/%61ds/` is `/ads/`), so spelling variants of one URL
 * match alike; the URL still goes out as the client sent it (as Squid). Regexes are trusted config:
 * keep them linear (no nested quantifiers) to avoid catastrophic backtracking.
 */
import { decodeUnreserved, normalisePath, type PathOptions } from '../core/path.js';

/** How paths are normalised for matching. */
const MATCHING: PathOptions = { mergeSlashes: true, escapedSlashes: 'keep', backslashAsSlash: true };

export interface UrlFilterRequest {
  readonly scheme?: 'http' | 'https';
  /** Normalised host (core/host.ts). */
  readonly host: string;
  /** Port, omitted from the URL when it is the scheme's default. */
  readonly port?: number;
  /** Request path with query, as received (`/a/b?c`). */
  readonly path: string;
}

interface Pattern {
  readonly name: string;
  readonly target: 'path' | 'hostpath' | 'url' | 'pathquery';
  readonly re: RegExp;
}

export class UrlFilter {
  readonly #patterns: readonly Pattern[];

  constructor(patterns: readonly Pattern[]) {
    this.#patterns = patterns;
  }

  get size(): number {
    return this.#patterns.length;
  }

  /** The first pattern that matches, by name (`url_patterns[i]` when unnamed), or undefined. */
  match(req: UrlFilterRequest): { readonly rule: string } | undefined {
    if (this.#patterns.length === 0) return undefined;
    const q = req.path.indexOf('?');
    const path = normalisePath(q < 0 ? req.path : req.path.slice(0, q), MATCHING);
    const query = q < 0 ? '' : req.path.slice(q);
    const scheme = req.scheme ?? 'http';
    const defaultPort = scheme === 'https' ? 443 : 80;
    const host = req.host.includes(':') ? `[${req.host}]` : req.host;
    const authority = req.port === undefined || req.port === defaultPort ? host : `${host}:${req.port}`;
    for (const p of this.#patterns) {
      const subject =
        p.target === 'path' ? path
        : p.target === 'hostpath' ? `${req.host}${path}`
        : p.target === 'pathquery' ? `${path}${query}`
        : `${scheme}://${authority}${path}${query}`;
      if (p.re.test(subject)) return { rule: p.name };
    }
    return undefined;
  }
}

export type UrlFilterCompileResult = { readonly filter: UrlFilter; readonly errors?: undefined } | { readonly filter?: undefined; readonly errors: readonly string[] };

/** Compiles `url_patterns`; problems come back as `key[i]: message`. */
export function compileUrlFilter(config: unknown, key = 'url_patterns'): UrlFilterCompileResult {
  if (config === undefined) return { filter: new UrlFilter([]) };
  if (!Array.isArray(config)) return { errors: [`${key}: must be a list of globs or { url_regex | urlpath_regex | glob }`] };
  const errors: string[] = [];
  const patterns: Pattern[] = [];
  config.forEach((raw: unknown, i) => {
    const k = `${key}[${i}]`;
    const entry = (typeof raw === 'string' ? { glob: raw } : raw) as Record<string, unknown> | null;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return void errors.push(`${k}: must be a glob string or an object`);
    const kinds = ['glob', 'url_regex', 'urlpath_regex'].filter((x) => x in entry);
    for (const extra of Object.keys(entry)) if (!['name', 'glob', 'url_regex', 'urlpath_regex', 'flags'].includes(extra)) errors.push(`${k}.${extra}: unknown key`);
    if (kinds.length !== 1) return void errors.push(`${k}: needs exactly one of glob, url_regex, urlpath_regex`);
    const kind = kinds[0]!;
    const source = entry[kind];
    const name = typeof entry.name === 'string' && entry.name !== '' ? entry.name : k;
    if (typeof source !== 'string' || source === '') return void errors.push(`${k}.${kind}: must be a non-empty string`);
    if (kind === 'glob') {
      if (entry.flags !== undefined) errors.push(`${k}.flags: only for url_regex and urlpath_regex`);
      const target = source.startsWith('/') ? 'path' : 'hostpath';
      return void patterns.push({ name, target, re: globToRegExp(decodeUnreserved(source)) });
    }
    const flags = entry.flags ?? '';
    if (typeof flags !== 'string' || !/^[imsu]*$/.test(flags)) return void errors.push(`${k}.flags: only i, m, s and u are allowed`);
    try {
      patterns.push({ name, target: kind === 'url_regex' ? 'url' : 'pathquery', re: new RegExp(source, flags) });
    } catch (err) {
      errors.push(`${k}.${kind}: invalid regular expression: ${(err as Error).message}`);
    }
  });
  return errors.length ? { errors } : { filter: new UrlFilter(patterns) };
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*+/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'is');
}
