// `twinshot ensemble`: combines trained embedding networks into one model folder.
import type { Command } from 'commander';
import { positiveInteger } from './options.js';

export function registerEnsembleCommand(program: Command): void {
  program
    .command('ensemble')
    .description(
      'combine trained embedding networks (same input size) into one model, measured on their held-out validation alphabets when they have some',
    )
    .requiredOption('-o, --out <dir>', 'the new model folder')
    .option('--name <name>', 'model name (default: the folder name)')
    .option('-d, --data <path>', 'where the training data is (to rebuild the validation split)')
    .option(
      '--views <n>',
      'test-time views averaged per image, stored in the model (default 1; each view costs one more pass)',
      positiveInteger('--views'),
    )
    .argument('<models...>', 'model folders written by twinshot train')
    .addHelpText(
      'after',
      '\nExample:\n  twinshot ensemble --views 4 --out models/omniglot-ensemble runs/ten-minutes runs/omniglot-fast runs/wide',
    )
    .action(async (models: string[], options: { out: string; name?: string; data?: string; views?: number }) => {
      const path = await import('node:path');
      const { buildEnsemble } = await import('../training/ensemble.js');
      const { formatAccuracy } = await import('../evaluation/statistics.js');
      const result = await buildEnsemble(models, options.out, {
        name: options.name ?? path.basename(path.resolve(options.out)),
        dataPath: options.data,
        views: options.views,
      });
      const measured = result.validation
        ? `validation ${formatAccuracy(result.validation)}`
        : 'no held-out validation groups (the members trained on all of them); threshold fitted on training pairs';
      console.log(`ensemble of ${models.length} written to ${options.out}; ${measured}`);
    });
}
