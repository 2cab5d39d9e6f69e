// `twinshot info`: what this installation runs on (libtorch version, threads, CUDA).
import type { Command } from 'commander';

export function registerInfoCommand(program: Command): void {
  program
    .command('info')
    .description('print the libtorch version, threads and devices this installation uses')
    .option('--json', 'print one JSON object')
    .action(async (options: { json?: boolean }) => {
      const { engineInfo } = await import('../engine/runtime.js');
      const info = engineInfo();
      const summary = {
        torchVersion: info.torchVersion,
        threads: info.numThreads,
        cuda: info.cudaAvailable ? `${info.cudaDeviceCount} device(s)` : 'not available',
      };
      if (options.json) console.log(JSON.stringify(summary));
      else for (const [key, value] of Object.entries(summary)) console.log(`${key.padEnd(14)} ${value}`);
    });
}
