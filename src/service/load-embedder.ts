// loadEmbedder: turns the --model argument of `twinshot serve` and `twinshot gallery` into an
// Embedder. Today it knows the raw-pixel baseline; trained model folders plug in here.
import fs from 'node:fs';
import { TwinshotError } from '../errors.js';
import type { Embedder } from '../models/embedder.js';
import { PixelEmbedder } from '../models/pixel-embedder.js';

/** What `--model` means when it is not given. */
export const DEFAULT_MODEL = 'pixels';

/**
 * Loads the embedder a model spec names:
 * - `pixels` or `pixels-N`: the raw-pixel baseline ({@link PixelEmbedder}) on an N x N grid (default 16);
 * - a folder written by `twinshot train` (model config + weights): not loadable yet.
 *
 * @throws TwinshotError ERR_MODEL when the spec names nothing loadable
 */
export async function loadEmbedder(modelSpec: string = DEFAULT_MODEL): Promise<Embedder> {
  const pixels = /^pixels(?:-(\d+))?$/.exec(modelSpec);
  if (pixels) return new PixelEmbedder(pixels[1] === undefined ? {} : { grid: Number(pixels[1]) });
  if (fs.existsSync(modelSpec)) {
    throw new TwinshotError(
      'ERR_MODEL',
      `--model ${modelSpec}: loading trained model folders is not implemented yet; use --model pixels (the raw-pixel baseline)`,
    );
  }
  throw new TwinshotError(
    'ERR_MODEL',
    `--model ${modelSpec}: no such model folder; give a folder written by twinshot train, or 'pixels'`,
  );
}
