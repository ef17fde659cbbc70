/**
 * Loads `block_domains` and `block_lists` files into one DomainTrie.
 *
 * File format, one entry per line: a domain pattern (`ads.example`, `*.ads.example`,
 * `.ads.example`, see domain-trie.ts), `#` comments (whole-line or trailing), blank lines.
 * Also tolerated, so common published lists load unchanged:
 * - hosts-file lines `0.0.0.0 name [name…]` (any IP first; `localhost`-style names skipped);
 * - Adblock-style `||name^` (= `.name`, apex and subdomains); `!` comments and `[…]` headers.
 * A bad line is counted and reported as a warning, never fatal: one typo must not drop a list.
 */

import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { DomainTrie } from './domain-trie.js';

/** Where a block entry came from: config `block_domains[i]` or `file:line`. */
export interface BlockEntry {
  readonly source: string;
  readonly line?: number;
}

export interface BlockListResult {
  readonly added: number;
  readonly invalid: number;
  /** `file:line: message` for the first few invalid lines. */
  readonly warnings: readonly string[];
}

const MAX_WARNINGS = 20;
const WHITESPACE = /\s/;
const HOSTS_NOISE = new Set([
  'localhost', 'localhost.localdomain', 'local', 'broadcasthost', 'ip6-localhost', 'ip6-loopback',
  'ip6-localnet', 'ip6-mcastprefix', 'ip6-allnodes', 'ip6-allrouters', 'ip6-allhosts', '0.0.0.0',
]);

/** Adds every entry of a block-list file's text to `trie`. */
export function parseBlockList(text: string, source: string, trie: DomainTrie<BlockEntry>): BlockListResult {
  let invalid = 0;
  const warnings: string[] = [];
  const sizeBefore = trie.size;
  const bad = (lineNo: number, msg: string) => {
    invalid++;
    if (warnings.length < MAX_WARNINGS) warnings.push(`${source}:${lineNo}: ${msg}`);
  };
  // Walks the text by index: a 200k-element split() array is pure garbage-collector load.
  for (let start = 0, i = 0; start < text.length; i++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    line = line.trim();
    if (line === '' || line[0] === '!' || line[0] === '[') continue;
    const entry: BlockEntry = { source, line: i + 1 };
    if (line.startsWith('||')) {
      if (!line.endsWith('^') || /[/$*]/.test(line)) bad(i + 1, `unsupported Adblock rule ${JSON.stringify(line)}`);
      else addOne(trie, `.${line.slice(2, -1)}`, entry, i + 1, bad);
      continue;
    }
    if (!WHITESPACE.test(line)) {
      addOne(trie, line, entry, i + 1, bad);
      continue;
    }
    const tokens = line.split(/\s+/);
    if (isIP(tokens[0]!)) {
      for (const name of tokens.slice(1)) if (!HOSTS_NOISE.has(name.toLowerCase())) addOne(trie, name, entry, i + 1, bad);
    } else {
      bad(i + 1, `expected one domain per line, got ${JSON.stringify(line.slice(0, 80))}`);
    }
  }
  return { added: trie.size - sizeBefore, invalid, warnings };
}

function addOne(
  trie: DomainTrie<BlockEntry>, pattern: string, entry: BlockEntry, lineNo: number, bad: (n: number, m: string) => void,
): void {
  const err = trie.add(pattern, entry);
  if (err) bad(lineNo, err);
}

/** Reads one block-list file into `trie`. Rejects when the file cannot be read. */
export async function loadBlockList(file: string, trie: DomainTrie<BlockEntry>): Promise<BlockListResult> {
  return parseBlockList(await readFile(file, 'utf8'), file, trie);
}

export interface BlockMatcherConfig {
  /** Config `block_domains`. */
  readonly blockDomains?: readonly string[];
  /** Config `block_lists`: file paths. */
  readonly blockLists?: readonly string[];
}

export interface BlockMatcher {
  readonly trie: DomainTrie<BlockEntry>;
  /** `key: message`: invalid `block_domains` entries, unreadable files. The config is invalid. */
  readonly errors: readonly string[];
  /** Bad lines inside list files, and per-file counts worth logging. */
  readonly warnings: readonly string[];
}

/** Builds the listener's block trie from config; never throws. */
export async function buildBlockMatcher(cfg: BlockMatcherConfig, key = 'forward'): Promise<BlockMatcher> {
  const trie = new DomainTrie<BlockEntry>();
  const errors: string[] = [];
  const warnings: string[] = [];
  (cfg.blockDomains ?? []).forEach((pattern, i) => {
    const err = typeof pattern === 'string' ? trie.add(pattern, { source: `block_domains[${i}]` }) : 'must be a string';
    if (err) errors.push(`${key}.block_domains[${i}]: ${err}`);
  });
  for (const [i, file] of (cfg.blockLists ?? []).entries()) {
    try {
      const r = await loadBlockList(file, trie);
      warnings.push(...r.warnings);
      if (r.invalid > r.warnings.length) warnings.push(`${file}: ${r.invalid - r.warnings.length} more invalid lines`);
    } catch (err) {
      errors.push(`${key}.block_lists[${i}]: cannot read ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return { trie, errors, warnings };
}

/** Short rule name for logs and the block page, e.g. `block_lists:/etc/ads.txt:12 (*.ads.example)`. */
export function describeBlockEntry(pattern: string, entry: BlockEntry): string {
  return entry.line === undefined ? `${entry.source} (${pattern})` : `block_lists:${entry.source}:${entry.line} (${pattern})`;
}
