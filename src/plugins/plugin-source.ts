/**
 * Reads one plugin file and turns it into the JavaScript module text the isolate compiles:
 * `.js`/`.mjs` as is, `.ts`/`.mts` through esbuild's transformSync (types stripped, nothing
 * bundled). Also the version hash and `file:line:col` error formatting shared by load and check.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname, relative } from 'node:path';
import { transformSync } from 'esbuild';

export interface PluginSource {
  /** Absolute path of the file. */
  readonly file: string;
  /** The path shown in messages and stack traces (relative to cwd when inside it). */
  readonly displayName: string;
  /** JavaScript ES module text. */
  readonly code: string;
  /** sha256 of the file's bytes, first 12 hex digits. */
  readonly version: string;
}

/** A plugin that cannot be loaded: unreadable, bad syntax, imports, or a top-level failure. */
export class PluginLoadError extends Error {
  override readonly name = 'PluginLoadError';
  readonly code = 'PRX_PLUGIN_LOAD';
  constructor(readonly file: string, message: string, readonly line?: number, readonly column?: number) {
    super(`${file}${line ? `:${line}${column ? `:${column}` : ''}` : ''}: ${message}`);
  }
}

const EXTENSIONS = new Set(['.js', '.mjs', '.ts', '.mts']);

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

function versionOf(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 12);
}

/** Reads and transpiles `file` (absolute). Throws PluginLoadError with file:line on any problem. */
export function readPluginSource(file: string): PluginSource {
  const displayName = displayPath(file);
  const ext = extname(file).toLowerCase();
  if (!EXTENSIONS.has(ext)) throw new PluginLoadError(displayName, `unsupported extension "${ext}" (use .js, .mjs or .ts)`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PluginLoadError(displayName, `cannot read: ${(err as Error).message}`);
  }
  const version = versionOf(text);
  if (ext === '.js' || ext === '.mjs') return { file, displayName, code: text, version };
  try {
    // esm + es2022 keeps `export function` intact; no bundling, so imports still reach our resolver.
    const out = transformSync(text, { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: displayName });
    return { file, displayName, code: out.code, version };
  } catch (err) {
    const first = (err as { errors?: { text: string; location?: { line: number; column: number } | null }[] }).errors?.[0];
    if (!first) throw new PluginLoadError(displayName, (err as Error).message);
    // esbuild columns are 0-based; editors and V8 count from 1.
    throw new PluginLoadError(displayName, `TypeScript: ${first.text}`, first.location?.line, first.location ? first.location.column + 1 : undefined);
  }
}
