// `twinshot train`: trains a model from a JSON config; Ctrl-C saves a checkpoint and exits cleanly.
import path from 'node:path';
import type { Command } from 'commander';
import { parseOverride } from './options.js';

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description('train a twin network from a JSON config (see configs/)')
    .requiredOption('-c, --config <file>', 'training config (JSON)')
    .option('-d, --data <path>', 'data location (Omniglot zip/folder, image folder or manifest)')
    .option('-o, --out <dir>', 'run folder: model, checkpoint, metrics (default runs/<name>)')
    .option('--resume', 'continue the run in --out from its checkpoint')
    .option('--steps <n>', 'override training.steps', (v) => Number(v))
    .option('--time-limit <minutes>', 'override training.timeLimitMinutes', (v) => Number(v))
    .option('--seed <n>', 'override seed', (v) => Number(v))
    .option('--set <key=value...>', 'override any config key, e.g. --set optimizer.lr=0.0005 data.size=32', collect, [])
    .addHelpText(
      'after',
      `
Examples:
  twinshot train --config configs/omniglot-fast.json
  twinshot train --config configs/omniglot-fast.json --out runs/fast --steps 200 --time-limit 10
  twinshot train --config configs/koch2015.json --set training.steps=50 --out runs/koch-short
  twinshot train --config configs/omniglot-fast.json --out runs/fast --resume`,
    )
    .action(
      async (options: {
        config: string;
        data?: string;
        out?: string;
        resume?: boolean;
        steps?: number;
        timeLimit?: number;
        seed?: number;
        set: string[];
      }) => {
        const { loadConfig } = await import('../training/config.js');
        const { train } = await import('../training/trainer.js');
        const overrides: Record<string, unknown> = Object.fromEntries(options.set.map(parseOverride));
        if (options.steps !== undefined) overrides['training.steps'] = options.steps;
        if (options.timeLimit !== undefined) overrides['training.timeLimitMinutes'] = options.timeLimit;
        if (options.seed !== undefined) overrides.seed = options.seed;
        const config = loadConfig(options.config, overrides);
        const outDir = options.out ?? path.join('runs', config.name);
        const controller = new AbortController();
        const onSignal = () => {
          if (controller.signal.aborted) process.exit(130); // a second Ctrl-C quits at once
          console.error('\ntwinshot: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)');
          controller.abort();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        const bar = process.stdout.isTTY ? await progressBar() : null;
        try {
          const result = await train({
            config,
            dataPath: options.data,
            outDir,
            resume: options.resume,
            signal: controller.signal,
            log: (line) => (bar ? bar.log(line) : console.log(line)),
            onStep: bar ? (info) => bar.update(info) : undefined,
          });
          bar?.stop();
          if (result.stoppedBy === 'signal')
            console.log(
              `checkpoint saved; continue with: twinshot train --config ${options.config} --out ${outDir} --resume`,
            );
        } finally {
          bar?.stop();
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      },
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function progressBar() {
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    {
      format: 'step {value}/{total} [{bar}] loss {loss} | {rate} img/s | lr {lr} | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(info: { step: number; totalSteps: number; loss: number; imagesPerSecond: number; lr: number }) {
      const payload = {
        loss: info.loss.toFixed(4),
        rate: info.imagesPerSecond.toFixed(0),
        lr: info.lr.toExponential(2),
      };
      if (!started) {
        bar.start(info.totalSteps, info.step, payload);
        started = true;
      } else bar.update(info.step, payload);
    },
    log(line: string) {
      if (started) process.stdout.write('\r\x1b[K');
      console.log(line);
      if (started) bar.render();
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
