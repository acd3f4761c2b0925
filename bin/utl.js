#!/usr/bin/env node
// Entry point of the `utl` command: runs the compiled CLI (npm run build makes dist/).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv);
