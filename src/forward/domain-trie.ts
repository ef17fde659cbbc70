/**
 * Domain matching for `block_domains`, block lists, ACL `dst_domain` and the SSRF exemptions:
 * a trie keyed by labels from the right (`com` → `example` → `www`), so a lookup costs one map
 * step per label of the request host, however many entries are loaded.
 *
 * Pattern forms (case-insensitive; one trailing dot ignored; IDN names compared as punycode):
 * - `example.com`    exactly that name.
 * - `*.example.com`  any name below it, at any depth (`a.example.com`, `a.b.example.com`), NOT
 *                    `example.com` itself: the reading TLS wildcards taught users, and the safe one
 *                    for allow rules.
 * - `.example.com`   Squid's dstdomain form: `example.com` AND every name below it. Use it to
 *                    block a whole site.
 */

import { domainToASCII } from 'node:url';

export type DomainPatternKind = 'exact' | 'subdomains' | 'apex_and_subdomains';

export interface DomainPattern {
  readonly kind: DomainPatternKind;
  /** Normalised name the pattern is anchored at: lower-case ASCII, no wildcard, no trailing dot. */
  readonly name: string;
}

export interface DomainMatch<T> {
  /** The pattern as written (trimmed) when it was added. */
  readonly pattern: string;
  readonly value: T;
}

// One pass instead of split + per-label tests: loading 200k-entry lists is parse-bound.
const NAME = /^(?=.{1,253}$)(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}$/;

/** Lower-case ASCII form of a domain name without its trailing dot, or undefined when invalid. */
export function normalizeDomainName(name: string): string | undefined {
  let n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (/[^\x00-\x7f]/.test(n)) n = domainToASCII(n);
  n = n.toLowerCase();
  return NAME.test(n) ? n : undefined;
}

/** Parses one pattern; returns an error message instead when it is not valid. */
export function parseDomainPattern(raw: string): DomainPattern | string {
  const text = raw.trim();
  let kind: DomainPatternKind = 'exact';
  let rest = text;
  if (text.startsWith('*.')) {
    kind = 'subdomains';
    rest = text.slice(2);
  } else if (text.startsWith('.')) {
    kind = 'apex_and_subdomains';
    rest = text.slice(1);
  }
  if (rest.includes('*')) return `invalid domain pattern ${JSON.stringify(raw)}: "*" only as a whole leading label ("*.example.com")`;
  const name = normalizeDomainName(rest);
  if (name === undefined) return `invalid domain pattern ${JSON.stringify(raw)}`;
  return { kind, name };
}

// Most nodes have one child (`tracker.ads.example`), so the first child lives inline and a Map
// is only made for the second: halves load time and memory for 200k-entry lists.
class Node<T> {
  label: string | undefined = undefined;
  child: Node<T> | undefined = undefined;
  children: Map<string, Node<T>> | undefined = undefined;
  // Pattern and value kept flat (no match object per entry): fewer allocations when loading.
  exactPattern: string | undefined = undefined;
  exactValue: T | undefined = undefined;
  belowPattern: string | undefined = undefined;
  belowValue: T | undefined = undefined;

  get(label: string): Node<T> | undefined {
    return this.children ? this.children.get(label) : this.label === label ? this.child : undefined;
  }

  getOrAdd(label: string): Node<T> {
    const found = this.get(label);
    if (found) return found;
    const node = new Node<T>();
    if (this.children) this.children.set(label, node);
    else if (this.label === undefined) {
      this.label = label;
      this.child = node;
    } else {
      this.children = new Map([[this.label, this.child!], [label, node]]);
      this.label = undefined;
      this.child = undefined;
    }
    return node;
  }
}

/** Reversed-label trie from domain patterns to values. The first entry added for a name wins. */
export class DomainTrie<T> {
  #root = new Node<T>();
  #size = 0;

  /** Number of patterns stored (duplicates not counted). */
  get size(): number {
    return this.#size;
  }

  /** Adds a pattern; returns an error message when it is invalid, else undefined. */
  add(pattern: string, value: T): string | undefined {
    const parsed = parseDomainPattern(pattern);
    if (typeof parsed === 'string') return parsed;
    this.addParsed(parsed, pattern.trim(), value);
    return undefined;
  }

  /** Adds an already-parsed pattern; `pattern` is what `match` reports. */
  addParsed(p: DomainPattern, pattern: string, value: T): void {
    let node = this.#root;
    const name = p.name;
    for (let end = name.length; end > 0; ) {
      const dot = name.lastIndexOf('.', end - 1);
      node = node.getOrAdd(name.slice(dot + 1, end));
      end = dot;
    }
    let added = false;
    if (p.kind !== 'subdomains' && node.exactPattern === undefined) {
      node.exactPattern = pattern;
      node.exactValue = value;
      added = true;
    }
    if (p.kind !== 'exact' && node.belowPattern === undefined) {
      node.belowPattern = pattern;
      node.belowValue = value;
      added = true;
    }
    if (added) this.#size++;
  }

  /**
   * The most specific pattern matching `host` (an exact entry beats a wildcard, a deeper
   * wildcard beats a shallower one), or undefined. `host` should be normalised already;
   * case and one trailing dot are tolerated.
   */
  match(host: string): DomainMatch<T> | undefined {
    let h = host.endsWith('.') ? host.slice(0, -1) : host;
    // Lower-casing allocates; skip it for the common already-lower-case host.
    if (/[A-Z]/.test(h)) h = h.toLowerCase();
    let node = this.#root;
    let best: Node<T> | undefined; // deepest node with a wildcard entry so far
    let end = h.length;
    for (;;) {
      const dot = h.lastIndexOf('.', end - 1);
      const next = node.get(h.slice(dot + 1, end));
      if (!next) break;
      node = next;
      if (dot < 0) {
        if (node.exactPattern !== undefined) return { pattern: node.exactPattern, value: node.exactValue as T };
        break;
      }
      if (node.belowPattern !== undefined) best = node;
      end = dot;
    }
    return best && { pattern: best.belowPattern!, value: best.belowValue as T };
  }
}
