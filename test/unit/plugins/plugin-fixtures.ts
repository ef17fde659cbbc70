/** Temp-dir plugin files and a capturing logger for the plugin tests. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginLogger } from '../../../src/plugins/plugin-types.js';

export class PluginDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'gh-plugins-'));
  write(name: string, code: string): string {
    const file = join(this.dir, name);
    writeFileSync(file, code);
    return file;
  }
  remove(): void { rmSync(this.dir, { recursive: true, force: true }); }
}

export interface Captured { level: string; obj: Record<string, unknown>; msg: string }

export function captureLogger(): PluginLogger & { lines: Captured[] } {
  const lines: Captured[] = [];
  const at = (level: string) => (obj: object, msg: string) => { lines.push({ level, obj: obj as Record<string, unknown>, msg }); };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Time limits no loaded machine trips, for tests that are not about the limits. */
export const RELAXED = { cpuLimitMs: 10_000, timeoutMs: 20_000 } as const;
