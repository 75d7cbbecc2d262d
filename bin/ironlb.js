#!/usr/bin/env node
// The installed entry point: the compiled CLI lives in dist/ (built by `npm ci` through `prepare`).
import { setFlagsFromString } from 'node:v8';

// A speaker runs on every node (DaemonSet), so its memory counts N times: trade some GC
// throughput for a smaller heap. Set before any module loads, so that the Kubernetes client's
// startup allocations already use the smaller young generation (docs/speaker.md, "Memory").
if (process.argv[2] === 'speaker') {
  setFlagsFromString('--optimize-for-size');
  setFlagsFromString('--max-semi-space-size=1');
}

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
