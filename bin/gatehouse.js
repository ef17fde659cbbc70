#!/usr/bin/env -S node --no-node-snapshot --max-semi-space-size=8
// The gatehouse CLI. Runs the compiled build in dist/ (npm start builds it first).
// --max-semi-space-size=8 bounds V8's young generation: left to grow (its default), it adds ~100 MB of RSS
// under sustained load that is never given back (docs/operations-limits.md).
import '../dist/cli/main.js';
