// `twinshot embed` and `twinshot verify`: a model as a feature extractor and as a same/different judge.
import fs from 'node:fs';
import type { Command } from 'commander';
import type { Tensor } from '../engine/tensor.js';
import type { LoadedModel } from '../models/model-folder.js';
import { resolveImagePaths, withImagePaths, type ImagePathOptions } from './image-paths.js';

/** Images decoded at once and embedded in one batch: bounds memory for any number of files. */
const CHUNK = 256;

/**
 * Decodes `files` to the model's input and embeds them, CHUNK at a time, calling `onVectors`
 * with each chunk's files, vectors [n, D] and, for a model with a pair comparator, its features
 * [n, F] (valid only during the call).
 * @throws TwinshotError ERR_IMAGE naming the files that could not be read or decoded
 */
async function embedFiles(
  loaded: LoadedModel,
  files: readonly string[],
  onVectors: (files: readonly string[], vectors: Tensor, features: Tensor | null) => void,
): Promise<void> {
  const [{ decodeMany }, { noGrad }, { tidy }, { tensor }, { TwinshotError }] = await Promise.all([
    import('../data/decode.js'),
    import('../engine/autograd.js'),
    import('../engine/scope.js'),
    import('../engine/tensor.js'),
    import('../errors.js'),
  ]);
  const { size } = loaded.card.preprocessing;
  for (let start = 0; start < files.length; start += CHUNK) {
    const chunk = files.slice(start, start + CHUNK);
    const sources = chunk.map((file) => ({ path: file, read: () => fs.readFileSync(file) }));
    const { pixels, skipped } = await decodeMany(sources, loaded.card.preprocessing);
    if (skipped.length > 0) {
      const listed = skipped.slice(0, 5).map((s) => `  ${s.path}: ${s.reason}`);
      throw new TwinshotError(
        'ERR_IMAGE',
        `${skipped.length} image(s) could not be read or decoded; fix or remove them and run again:\n${listed.join('\n')}` +
          (skipped.length > 5 ? `\n  ... and ${skipped.length - 5} more` : ''),
      );
    }
    tidy(() =>
      noGrad(() => {
        const codes = loaded.inference.encode(
          tensor(pixels, { shape: [chunk.length, 1, size, size] })
            .float()
            .div(255),
        );
        onVectors(chunk, codes.embedding, codes.features);
      }),
    );
  }
}

export function registerEmbedVerifyCommands(program: Command): void {
  withImagePaths(
    program
      .command('embed')
      .description('print the embedding of each image (one JSON object per line)')
      .requiredOption('-m, --model <dir>', 'model folder')
      .argument('[images...]', 'image files, folders or quoted glob patterns')
      .addHelpText(
        'after',
        '\nExamples:\n' +
          '  twinshot embed --model models/omniglot-fast a.png b.png > vectors.jsonl\n' +
          "  twinshot embed --model models/omniglot-fast drawings/ 'scans/**/*.png' > vectors.jsonl\n" +
          "  find drawings -name '*.png' | twinshot embed --model models/omniglot-fast --files-from - > vectors.jsonl",
      ),
  ).action(async (images: string[], options: { model: string } & ImagePathOptions) => {
    const files = await resolveImagePaths(images, options);
    const { loadModelFolder } = await import('../models/model-folder.js');
    await embedFiles(loadModelFolder(options.model), files, (chunk, vectors) => {
      const rows = vectors.tolist() as number[][];
      const lines = rows.map((row, i) =>
        JSON.stringify({ image: chunk[i], embedding: row.map((x) => Number(x.toFixed(6))) }),
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  });

  program
    .command('verify')
    .description(
      "say whether two images show the same class, at the model's calibrated threshold (by its pair comparator when it has one)",
    )
    .requiredOption('-m, --model <dir>', 'model folder')
    .argument('<image1>')
    .argument('<image2>')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExample:\n  twinshot verify --model models/omniglot-fast drawing1.png drawing2.png')
    .action(async (image1: string, image2: string, options: { model: string; json?: boolean }) => {
      const { loadModelFolder } = await import('../models/model-folder.js');
      const loaded = loadModelFolder(options.model);
      let distance = NaN;
      let logit: number | null = null;
      await embedFiles(loaded, [image1, image2], (_files, vectors, features) => {
        const pair = loaded.inference.pairDistances(vectors.narrow(0, 0, 1), vectors.narrow(0, 1, 1));
        distance = pair.item();
        // Two-stage models answer by their comparator, at its own calibrated threshold.
        if (features !== null && loaded.card.verification.comparator !== undefined)
          logit = loaded.inference.compare(features.narrow(0, 0, 1), features.narrow(0, 1, 1), pair).item();
      });
      const comparator = loaded.card.verification.comparator;
      if (logit !== null && comparator !== undefined) {
        const probability = 1 / (1 + Math.exp(-comparator.scale * (logit - comparator.threshold)));
        const same = logit >= comparator.threshold;
        const threshold = comparator.threshold;
        if (options.json) {
          console.log(
            JSON.stringify({ image1, image2, scoredBy: 'comparator', logit, distance, probability, threshold, same }),
          );
          return;
        }
        console.log(`comparator   ${(logit as number).toFixed(4)} (logit; threshold ${threshold.toFixed(4)})`);
        console.log(`distance     ${distance.toFixed(4)} (${loaded.inference.metric}, embedding)`);
        console.log(`probability  ${(100 * probability).toFixed(1)}% same class`);
        console.log(`verdict      ${same ? 'same' : 'different'}`);
        return;
      }
      const { threshold, scale } = loaded.card.verification;
      const probability = 1 / (1 + Math.exp(-scale * (threshold - distance)));
      const same = distance <= threshold;
      if (options.json) {
        console.log(JSON.stringify({ image1, image2, scoredBy: 'embedding', distance, probability, threshold, same }));
        return;
      }
      console.log(
        `distance     ${distance.toFixed(4)} (${loaded.inference.metric}; threshold ${threshold.toFixed(4)})`,
      );
      console.log(`probability  ${(100 * probability).toFixed(1)}% same class`);
      console.log(`verdict      ${same ? 'same' : 'different'}`);
    });
}
