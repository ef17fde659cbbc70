// Runs the CLI in a child Node started with --no-node-snapshot, forwards the stop and reload signals to
// it, and leaves with the child's exit status (or dies of the same signal), so this PID behaves as the
// proxy's own.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function relaunchWithoutSnapshot() {
  const entry = fileURLToPath(new URL('./gatehouse.js', import.meta.url));
  const child = spawn(process.execPath, ['--no-node-snapshot', ...process.execArgv, entry, ...process.argv.slice(2)],
    { stdio: 'inherit' });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) { process.removeAllListeners(signal); process.kill(process.pid, signal); } else process.exit(code ?? 1);
  });
}
