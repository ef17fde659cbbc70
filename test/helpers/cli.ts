/** Runs the real `gatehouse` command line (the bin, as users run it) and probes ports. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { OWN_HOST } from './addresses.js';

/**
 * The bin runs the compiled dist/: it is brought up to date once, when mocha loads the test files (before
 * any test runs, so no test's timeout pays for a build). A process start is then about half what it is
 * through tsx, and a cluster's workers start as fast.
 */
execFileSync(process.execPath, ['scripts/build-if-needed.mjs'], { stdio: 'ignore' });
export const CLI = ['--no-node-snapshot', 'bin/gatehouse.js'];

export interface CliRun { child: ChildProcess; output: Promise<{ code: number | null; stdout: string; stderr: string }> }

/** Starts `gatehouse ARGS…` with extra environment (and `stdin` as its input); `output` resolves when it exits. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): CliRun {
  const child = spawn(process.execPath, [...CLI, ...args], { env: { ...process.env, ...env }, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const output = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, output };
}

/** Whether something accepts connections on OWN_HOST:port (where freePort's ports are). */
export async function listening(port: number): Promise<boolean> {
  const socket = connect(port, OWN_HOST);
  try { await once(socket, 'connect'); return true; } catch { return false; } finally { socket.destroy(); }
}
