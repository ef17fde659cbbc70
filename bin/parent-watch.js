// Under npm (`npx gatehouse`, or a package script that does not `exec`), npm passes SIGTERM/SIGINT to the
// `sh -c` it started, and the shell dies of it without passing it on: the proxy would keep serving,
// re-parented to init. So when the parent process goes away, stop as if signalled: drain and exit.
const CHECK_EVERY_MS = 500;

export function stopWhenParentShellDies() {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, CHECK_EVERY_MS);
  timer.unref();
}
