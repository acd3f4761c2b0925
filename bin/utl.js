#!/usr/bin/env node
// Entry point of the `utl` command: runs the compiled CLI (npm run build makes dist/).
import v8 from 'node:v8';

// The young generation's size, set before anything is allocated (docs/operations.md "Memory"):
// - batch commands (`replay`, …) allocate many short-lived decimals: scavenging them in bigger
//   batches (64 MB semi-spaces) cuts GC time by about a third (bench/README.md);
// - the service (`start`, `demo`) keeps V8's default (16 MB): it keeps a window of recent events
//   for late ones, so most of what it allocates survives a scavenge, and a scavenge's pause grows
//   with the semi-space (64 MB: pauses of 50-100 ms under load; the latency target is 25 ms).
// A --max-semi-space-size given to node itself is left alone.
const service = process.argv[2] === 'start' || process.argv[2] === 'demo';
if (!service && !process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) v8.setFlagsFromString('--max-semi-space-size=64');

const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv);
