/** Vary and secondary cache keys (RFC 9111 §4.1). */
import { joinValue, splitList, type HeaderMap } from './headers.js';

/** Lower-case, de-duplicated, sorted selecting field names; '*' when any member is '*' (never matches). */
export function parseVary(headers: HeaderMap): readonly string[] | '*' {
  const v = joinValue(headers['vary']);
  if (!v) return [];
  const names = new Set<string>();
  for (const m of splitList(v)) {
    if (m === '*') return '*';
    names.add(m.toLowerCase());
  }
  return [...names].sort();
}

// Fields whose values are case-insensitive (codings, language tags, charsets, media types).
const CASE_INSENSITIVE: ReadonlySet<string> = new Set(['accept', 'accept-encoding', 'accept-language', 'accept-charset', 'te']);
// Fields whose member order carries no meaning: a server picks among codings by its own preference.
const UNORDERED: ReadonlySet<string> = new Set(['accept-encoding', 'te']);

/**
 * Normalised value of one selecting field (RFC 9111 §4.1): field lines combined, whitespace around
 * members removed, case folded where the field is case-insensitive, order dropped where it carries
 * no meaning. Accept-Language keeps its order: servers use it to break q-value ties.
 * An absent field normalises to undefined, which only matches another absent field.
 */
function normaliseSelecting(name: string, headers: HeaderMap): string | undefined {
  const v = joinValue(headers[name]);
  if (v === undefined) return undefined;
  // Fast path for the common simple values ("gzip, br", "*/*"): no quotes, parameters or odd spacing.
  let members = v.includes('"') ? splitList(v) : v.split(',').map((m) => m.trim()).filter((m) => m !== '');
  if (v.includes(';') || v.includes('=')) members = members.map((m) => m.replace(/\s*;\s*/g, ';').replace(/\s*=\s*/g, '='));
  if (CASE_INSENSITIVE.has(name)) members = members.map((m) => m.toLowerCase());
  if (UNORDERED.has(name) && members.length > 1) members.sort();
  return members.join(',');
}

/** Secondary key: the normalised values of the selecting fields of a request, in `names` order. */
export function varyKey(names: readonly string[], reqHeaders: HeaderMap): string {
  if (names.length === 0) return '';
  let key = '';
  for (const name of names) {
    const v = normaliseSelecting(name, reqHeaders);
    // Field values hold no CR/LF, so "\n" separates members unambiguously; "\u0001" marks an absent field.
    key += v === undefined ? `${name}\u0001\n` : `${name}=${v}\n`;
  }
  return key;
}
