#!/usr/bin/env node
// Entry point of the `utl` command: runs the compiled CLI (npm run build makes dist/).
//
// V8's young generation is sized before any script runs (a flag set here with
// v8.setFlagsFromString would change nothing), so every command runs with node's default (16 MB
// semi-spaces) unless node is started with another: `node --max-semi-space-size=64 bin/utl.js
// replay FILE` scavenges a 1M-fill log 29 times instead of 130, with no wall-time gain this
// machine could measure and ~100 MB more peak RSS, so the CLI does not start a second node for it
// (docs/operations.md "Memory"). The service (`start`, `demo`) wants the default: it keeps a window
// of recent events for late ones, most of what it allocates survives a scavenge, and a scavenge's
// pause grows with the semi-space (64 MB: pauses of 50-100 ms under load).
const { main } = await import('../dist/src/cli/main.js');
process.exitCode = await main(process.argv);
