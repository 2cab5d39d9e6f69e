// `twinshot eval`: evaluates a saved model; --json prints one JSON object as the last line.
import type { Command } from 'commander';
import { nonNegativeInteger, positiveInteger, positiveNumber } from './options.js';

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('measure one-shot accuracy (with a 95% CI), verification or retrieval quality of a model')
    .requiredOption('-m, --model <dir>', 'model folder (config.json + model.safetensors)')
    .option(
      '-d, --data <path>',
      "evaluation images: Omniglot's images_evaluation(.zip) (default: located automatically) or an image folder",
    )
    .option('--runs <path>', "the Omniglot release's one-shot runs (all_runs folder or zip); implies --protocol runs")
    .option(
      '-p, --protocol <name>',
      'within-alphabet | across-alphabets | koch | runs | mnist | verification | retrieval',
      'within-alphabet',
    )
    .option('--way <n>', 'classes per trial', positiveInteger('--way'), 20)
    .option('--shot <n>', 'examples per class', positiveInteger('--shot'), 1)
    .option(
      '--trials <n>',
      'trials (queries) of one-shot protocols; 10,000 give a 95% interval of about ±0.6 points at 90%',
      positiveInteger('--trials'),
      10_000,
    )
    .option('--seed <n>', 'seed of the tasks', (v) => Number(v), 0)
    .option(
      '--limit <n>',
      'pairs (verification, default 10,000) or images (retrieval, default all)',
      positiveInteger('--limit'),
    )
    .option(
      '--views <n>',
      "test-time views averaged per image (default: the model's setting)",
      positiveInteger('--views'),
    )
    .option(
      '--adapt <steps>',
      "fine-tune the network on each task's support set for this many Adam steps before classifying it (one-shot protocols; each step costs about a forward and backward pass of 5 images per support image)",
      positiveInteger('--adapt'),
    )
    .option('--adapt-lr <lr>', 'learning rate of --adapt (default 1e-4)', positiveNumber('--adapt-lr'))
    .option(
      '--rerank <k>',
      "with a model's pair comparator: re-rank the embedding's nearest K candidates by it (0: all; default: the model's setting)",
      nonNegativeInteger('--rerank'),
    )
    .option('--no-rerank', 'the embedding alone, even when the model has a comparator')
    .option('--json', 'print one JSON object as the last line')
    .option('--record', "also store the result in the model's config.json (metrics.<protocol>)")
    .addHelpText(
      'after',
      `
Examples:
  twinshot eval --model models/omniglot-fast --protocol within-alphabet --way 20 --shot 1 --seed 20261206   # 10,000 trials
  twinshot eval --model models/omniglot-fast --data ../shared/omniglot/images_evaluation.zip --trials 2000 --seed 3 --json
  twinshot eval --model models/omniglot-fast --runs all_runs.zip --json
  twinshot eval --model models/omniglot-fast --protocol verification
  twinshot eval --model models/omniglot-fast --protocol mnist   # Koch et al.'s transfer test
  twinshot eval --model models/omniglot-fast --views 4 --adapt 10 --trials 1000 --seed 1   # fine-tuned on each task's support set (seconds a trial)`,
    )
    .action(
      async (options: {
        model: string;
        data?: string;
        runs?: string;
        protocol: string;
        way: number;
        shot: number;
        trials: number;
        seed: number;
        limit?: number;
        views?: number;
        adapt?: number;
        adaptLr?: number;
        rerank?: number | boolean;
        json?: boolean;
        record?: boolean;
      }) => {
        const { PROTOCOLS, runEvaluation } = await import('../evaluation/run-evaluation.js');
        const { formatAccuracy } = await import('../evaluation/statistics.js');
        const { TwinshotError } = await import('../errors.js');
        const protocol = options.runs ? 'runs' : options.protocol;
        if (options.adaptLr !== undefined && options.adapt === undefined)
          throw new TwinshotError(
            'ERR_ARGUMENT',
            '--adapt-lr sets the learning rate of --adapt; give --adapt STEPS too',
          );
        if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
          throw new TwinshotError(
            'ERR_ARGUMENT',
            `--protocol must be one of ${PROTOCOLS.join(', ')}; got '${protocol}'`,
          );
        }
        const report = await runEvaluation({
          ...options,
          rerank: options.rerank === false ? null : options.rerank === true ? undefined : options.rerank,
          modelDir: options.model,
          protocol: protocol as (typeof PROTOCOLS)[number],
        });
        if (options.record) {
          const { recordMetrics } = await import('../models/model-folder.js');
          const { perGroup: _omit, model: _model, ...measured } = report as Record<string, unknown>;
          recordMetrics(options.model, String(report.protocol), { ...measured, measuredAt: new Date().toISOString() });
        }
        if (options.json) {
          const { perGroup: _perGroup, ...compact } = report as Record<string, unknown>;
          console.log(JSON.stringify(compact));
          return;
        }
        console.log(`model     ${report.model}`);
        console.log(`protocol  ${report.protocol}${report.way ? ` (${report.way}-way ${report.shot}-shot)` : ''}`);
        if (typeof report.rerank === 'number')
          console.log(
            `comparator re-ranks ${report.rerank === 0 ? 'every candidate' : `the embedding's nearest ${report.rerank}`}`,
          );
        if (typeof report.accuracy === 'number') {
          console.log(`accuracy  ${formatAccuracy(report as never)}`);
          const perGroup = report.perGroup as Record<string, { accuracy: number; trials: number }> | undefined;
          if (perGroup) {
            for (const [name, g] of Object.entries(perGroup))
              console.log(`  ${name.padEnd(40)} ${(100 * g.accuracy).toFixed(1).padStart(5)}%  (${g.trials} trials)`);
          }
        } else {
          for (const [key, value] of Object.entries(report)) {
            if (key === 'model' || key === 'protocol') continue;
            console.log(`${key.padEnd(26)} ${typeof value === 'number' ? Number(value.toFixed(4)) : String(value)}`);
          }
        }
      },
    );
}
