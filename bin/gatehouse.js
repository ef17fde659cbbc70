#!/usr/bin/env -S node --no-node-snapshot --max-semi-space-size=8
// The gatehouse command. A small launcher: it checks the Node.js version before importing anything that
// needs a newer one, then runs the compiled CLI (dist/, built by `npm start` or `npm run build`) in this
// same process, so a signal sent to this PID reaches the proxy's own SIGTERM/SIGINT/SIGHUP handlers.
// --max-semi-space-size=8 bounds V8's young generation: left to grow (its default), it adds ~100 MB of RSS
// under sustained load that is never given back (docs/operations-limits.md).
import { nodeVersionProblem } from './node-version.js';

const problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}

if (process.env.npm_lifecycle_event !== undefined && process.env.NODE_UNIQUE_ID === undefined) {
  const { stopWhenParentShellDies } = await import('./parent-watch.js');
  stopWhenParentShellDies();
}
await import('../dist/cli/main.js');
