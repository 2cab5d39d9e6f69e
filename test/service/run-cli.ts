// Runs the twinshot CLI from source (through tsx), as bin/twinshot.js runs the compiled one;
// the durability test spawns `serve` with it.
import { main } from '../../src/cli/index.js';

main(process.argv).catch((error: { message?: string; exitCode?: number }) => {
  console.error(`twinshot: ${error?.message ?? error}`);
  process.exit(typeof error?.exitCode === 'number' ? error.exitCode : 1);
});
