// `twinshot embed` and `twinshot verify`: a model as a feature extractor and as a same/different judge.
import fs from 'node:fs';
import type { Command } from 'commander';
import type { Preprocessing } from '../data/image.js';

async function loadImages(files: string[], preprocessing: Preprocessing) {
  const { decodeImage } = await import('../data/image.js');
  const { TwinshotError } = await import('../errors.js');
  return Promise.all(
    files.map(async (file) => {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (error) {
        throw new TwinshotError('ERR_IMAGE', `cannot read ${file}: ${(error as Error).message}`);
      }
      try {
        return await decodeImage(bytes, preprocessing);
      } catch (error) {
        throw new TwinshotError('ERR_IMAGE', `${file}: ${(error as Error).message}`);
      }
    }),
  );
}

async function embedFiles(modelDir: string, files: string[]) {
  const { loadModelFolder } = await import('../models/model-folder.js');
  const { noGrad } = await import('../engine/autograd.js');
  const { tensor } = await import('../engine/tensor.js');
  const loaded = loadModelFolder(modelDir);
  const { size } = loaded.card.preprocessing;
  const pixels = await loadImages(files, loaded.card.preprocessing);
  const flat = new Uint8Array(pixels.length * size * size);
  pixels.forEach((p, i) => flat.set(p, i * size * size));
  const vectors = noGrad(() =>
    loaded.inference.embed(
      tensor(flat, { shape: [pixels.length, 1, size, size] })
        .float()
        .div(255),
    ),
  );
  return { loaded, vectors };
}

export function registerEmbedVerifyCommands(program: Command): void {
  program
    .command('embed')
    .description('print the embedding of each image (one JSON object per line)')
    .requiredOption('-m, --model <dir>', 'model folder')
    .argument('<images...>', 'PNG/JPEG files')
    .addHelpText('after', '\nExample:\n  twinshot embed --model models/omniglot-fast a.png b.png > vectors.jsonl')
    .action(async (images: string[], options: { model: string }) => {
      const { vectors } = await embedFiles(options.model, images);
      const rows = vectors.tolist() as number[][];
      rows.forEach((row, i) =>
        console.log(JSON.stringify({ image: images[i], embedding: row.map((x) => Number(x.toFixed(6))) })),
      );
    });

  program
    .command('verify')
    .description("say whether two images show the same class, at the model's calibrated threshold")
    .requiredOption('-m, --model <dir>', 'model folder')
    .argument('<image1>')
    .argument('<image2>')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExample:\n  twinshot verify --model models/omniglot-fast drawing1.png drawing2.png')
    .action(async (image1: string, image2: string, options: { model: string; json?: boolean }) => {
      const { loaded, vectors } = await embedFiles(options.model, [image1, image2]);
      const distance = loaded.inference.pairDistances(vectors.narrow(0, 0, 1), vectors.narrow(0, 1, 1)).item();
      const { threshold, scale } = loaded.card.verification;
      const probability = 1 / (1 + Math.exp(-scale * (threshold - distance)));
      const same = distance <= threshold;
      if (options.json) {
        console.log(JSON.stringify({ image1, image2, distance, probability, threshold, same }));
        return;
      }
      console.log(
        `distance     ${distance.toFixed(4)} (${loaded.inference.metric}; threshold ${threshold.toFixed(4)})`,
      );
      console.log(`probability  ${(100 * probability).toFixed(1)}% same class`);
      console.log(`verdict      ${same ? 'same' : 'different'}`);
    });
}
