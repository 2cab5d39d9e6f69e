// `twinshot data omniglot`: downloads Omniglot's official zips into the cache, with a progress bar
// and checksum check; offline, it says where to put the files by hand.
import type { Command } from 'commander';

export function registerDataCommand(program: Command): void {
  const data = program.command('data').description('get and inspect data sets');
  data
    .command('omniglot')
    .description(
      'download Omniglot (images_background.zip, images_evaluation.zip) from github.com/brendenlake/omniglot',
    )
    .option('--dir <folder>', 'where to put the zips (default: <cache>/omniglot; $TWINSHOT_CACHE sets <cache>)')
    .option('--runs', "also fetch the release's 20 one-shot runs (all_runs.zip)")
    .option('--force', 'download again even when the files are present')
    .option('--json', 'print one JSON object instead of progress and text')
    .action(async (options: { dir?: string; runs?: boolean; force?: boolean; json?: boolean }) => {
      const { downloadOmniglot } = await import('../data/download.js');
      const { SingleBar, Presets } = await import('cli-progress');
      let bar: InstanceType<typeof SingleBar> | undefined;
      let current = '';
      const showProgress = !options.json && process.stderr.isTTY;
      const finishBar = (): void => {
        bar?.stop();
        bar = undefined;
      };
      const result = await downloadOmniglot({
        ...(options.dir !== undefined && { dir: options.dir }),
        runs: options.runs ?? false,
        force: options.force ?? false,
        onProgress: (file, received, total) => {
          if (!showProgress) return;
          if (file !== current) {
            finishBar();
            current = file;
            bar = new SingleBar(
              { format: `${file.padEnd(22)} {bar} {percentage}% {value}/{total} bytes`, stream: process.stderr },
              Presets.shades_classic,
            );
            bar.start(total ?? received, 0);
          }
          if (total === null) bar?.setTotal(received);
          bar?.update(received);
        },
      }).finally(finishBar);
      if (options.json) {
        console.log(JSON.stringify(result));
        return;
      }
      for (const f of result.files) {
        const note =
          f.status === 'downloaded'
            ? 'downloaded, checksum ok'
            : f.status === 'present'
              ? 'already present, checksum ok'
              : 'present with another checksum; kept (use --force to replace it)';
        console.log(`${f.file.padEnd(22)} ${String(f.bytes).padStart(10)} bytes  ${note}`);
      }
      const { omniglotDownloadDir } = await import('../data/omniglot.js');
      const found =
        result.dir === omniglotDownloadDir()
          ? 'loadOmniglot() finds it there'
          : `set TWINSHOT_OMNIGLOT=${result.dir} so that loadOmniglot() finds it`;
      console.log(`Omniglot is in ${result.dir}; ${found}.`);
    });
}
