// loadEmbedder: turns the --model argument of `twinshot serve` and `twinshot gallery` into an
// Embedder: a trained model folder (run in a worker thread), or the raw-pixel baseline.
import fs from 'node:fs';
import path from 'node:path';
import { TwinshotError } from '../errors.js';
import type { Embedder } from '../models/embedder.js';
import { ModelEmbedder } from '../models/model-embedder.js';
import { SHIPPED_MODELS, resolveModelFolder } from '../models/model-folder.js';
import { PixelEmbedder } from '../models/pixel-embedder.js';

/** The model shipped in the repository (models/omniglot-fast), the default of serve and gallery. */
export const SHIPPED_MODEL = SHIPPED_MODELS.omniglotFast;

/** What `--model` means when it is not given: the shipped model, or the pixel baseline without it. */
export const DEFAULT_MODEL = fs.existsSync(path.join(SHIPPED_MODEL, 'config.json')) ? SHIPPED_MODEL : 'pixels';

/**
 * Loads the embedder a model spec names:
 * - a folder written by `twinshot train` (config.json + model.safetensors), run in a worker thread;
 *   a shipped model also by its name (`omniglot-fast`, `models/omniglot-fast`) from any folder;
 * - `pixels` or `pixels-N`: the raw-pixel baseline ({@link PixelEmbedder}) on an N x N grid (default 16).
 *
 * @throws TwinshotError ERR_MODEL when the spec names nothing loadable
 */
export async function loadEmbedder(modelSpec: string = DEFAULT_MODEL): Promise<Embedder> {
  const pixels = /^pixels(?:-(\d+))?$/.exec(modelSpec);
  if (pixels) return new PixelEmbedder(pixels[1] === undefined ? {} : { grid: Number(pixels[1]) });
  const folder = resolveModelFolder(modelSpec);
  if (fs.existsSync(path.join(folder, 'config.json'))) return ModelEmbedder.open(folder);
  throw new TwinshotError(
    'ERR_MODEL',
    `--model ${modelSpec}: no model folder there (it needs config.json and model.safetensors); give a folder written by twinshot train, or 'pixels'`,
  );
}
