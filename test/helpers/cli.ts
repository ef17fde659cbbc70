/** Runs the real `gatehouse` command line (through tsx, so no build is needed) and probes ports. */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { once } from 'node:events';
import { OWN_HOST } from './addresses.js';

const CLI = ['--no-node-snapshot', '--import', 'tsx', 'src/cli/main.ts'];

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
