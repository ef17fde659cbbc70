#!/usr/bin/env -S node --no-node-snapshot
// The gatehouse CLI. Runs the compiled build in dist/ (npm start builds it first).
import '../dist/cli/main.js';
