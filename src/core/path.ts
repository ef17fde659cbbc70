/**
 * The one path normaliser (RFC 3986 §6.2.2), so routes, plugins, URL patterns and the cache key see one
 * spelling of a path however the client encoded it: percent-encoded unreserved characters decoded, other
 * escapes upper-cased, dot segments resolved, repeated slashes merged (optional). Encoded `/` and `\`
 * (`%2F`, `%5C`) are kept by default, as Envoy's `path_with_escaped_slashes_action` (APIs such as
 * GitLab's carry them in names); they can be refused or decoded. NUL and control bytes, raw or
 * encoded, and a malformed escape are refused. A segment `..;x` counts as `..` (Java servers read it so).
 */
import { ProxyError } from './errors.js';

export type EscapedSlashes = 'keep' | 'reject' | 'decode';

export interface PathOptions {
  readonly mergeSlashes: boolean;
  readonly escapedSlashes: EscapedSlashes;
  /** Read a raw `\` as `/` (for matching only: browsers do, and so might the destination). */
  readonly backslashAsSlash?: boolean;
}

/** Paths that need no work (the usual case): no escape, dot segment, double slash, `;` or odd byte. */
const NEEDS_WORK = /%|\/\.|\/\/|;|\\|#|[\x00-\x1f\x7f]/;

const isUnreserved = (c: number): boolean =>
  (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;

/** Decodes `%XX` of unreserved characters only, leaving everything else (for config text such as URL globs). */
export function decodeUnreserved(s: string): string {
  return s.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => (isUnreserved(parseInt(hex, 16)) ? String.fromCharCode(parseInt(hex, 16)) : m));
}

const bad = (why: string) => new ProxyError('bad_request', why);

/** Decodes what RFC 3986 says is safe to decode; refuses controls and malformed escapes. */
function decodeEscapes(path: string, escapedSlashes: EscapedSlashes): string {
  return path.replace(/%([0-9a-fA-F]{2})?/g, (_m, hex: string | undefined) => {
    if (hex === undefined) throw bad('malformed percent-encoding in the path');
    const c = parseInt(hex, 16);
    if (c < 0x20 || c === 0x7f) throw bad('encoded control character in the path');
    if (isUnreserved(c)) return String.fromCharCode(c);
    if (c === 0x2f || c === 0x5c) {
      if (escapedSlashes === 'reject') throw bad('encoded slash or backslash in the path');
      if (escapedSlashes === 'decode') return String.fromCharCode(c === 0x5c ? 0x2f : c);
    }
    return `%${hex.toUpperCase()}`;
  });
}

/** RFC 3986 §5.2.4 remove_dot_segments, with optional merging of empty segments. */
function resolveSegments(path: string, mergeSlashes: boolean): string {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    const semi = seg.indexOf(';');
    const name = semi < 0 ? seg : seg.slice(0, semi);
    if (name === '.' || name === '..') {
      if (name === '..') out.pop();
      if (last) out.push('');
      continue;
    }
    if (seg === '' && mergeSlashes && !last) continue;
    out.push(seg);
  }
  return `/${out.join('/')}`;
}

/**
 * The normalised form of an origin-form target (`/path?query`; the query is left as sent).
 * Throws a 400 ProxyError for what no normalisation can make safe.
 */
export function normalisePath(target: string, opts: PathOptions): string {
  if (!NEEDS_WORK.test(target)) return target;
  const q = target.indexOf('?');
  let path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q);
  if (/[\x00-\x1f\x7f]/.test(target)) throw bad('control character in the request target');
  if (target.includes('#')) throw bad('fragment in the request target');
  if (!NEEDS_WORK.test(path)) return target;
  if (opts.backslashAsSlash) path = path.replace(/\\/g, '/');
  path = decodeEscapes(path, opts.escapedSlashes);
  if (path.charCodeAt(0) !== 47 /* / */) path = `/${path}`;
  return resolveSegments(path, opts.mergeSlashes) + query;
}
