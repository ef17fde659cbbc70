/** Starts a built Gatehouse (dist/) and the benchmark origin as child processes, and reads a process's RSS. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { waitForPort } from './ports.js';

const work = mkdtempSync(join(tmpdir(), 'gh-soak-'));
export const children: ChildProcess[] = [];

/** The benchmark origin (servers.ts origin): /1k, /100k, and /big (a large body streamed with backpressure). */
export async function startOrigin(port: number): Promise<ChildProcess> {
  const child = fork(new URL('./servers.ts', import.meta.url).pathname, ['origin', String(port)], {
    execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  await once(child, 'message');
  return child;
}

/** Gatehouse on a YAML config, with the node flags of `npm start`; extra ones (e.g. --heapsnapshot-signal) after them. */
export async function startGatehouse(config: string, port: number, nodeFlags: string[] = []): Promise<ChildProcess> {
  const file = join(work, `gatehouse-${children.length}.yaml`);
  writeFileSync(file, config);
  const child = spawn(process.execPath, ['--no-node-snapshot', '--max-semi-space-size=8', ...nodeFlags, 'bin/gatehouse.js', '--config', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  await waitForPort(port);
  return child;
}

/** Resident set size of a process, MB (VmRSS from /proc). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export function stopAll(): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
}
process.on('exit', stopAll);
