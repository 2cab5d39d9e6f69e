#!/usr/bin/env node
// The twinshot command line (compiled TypeScript in dist/; see src/cli/).
import { main } from '../dist/cli/index.js';

main(process.argv).catch((error) => {
  console.error(`twinshot: ${error?.message ?? error}`);
  process.exit(typeof error?.exitCode === 'number' ? error.exitCode : 1);
});
