// Batch-norm statistics re-estimated for the weights being judged, on un-augmented training images
// (as SWA's update_bn does for averaged weights). The running statistics gathered during training
// describe distorted images and weights from many steps back; test images are undistorted.
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import type { ImageSet } from '../data/dataset.js';
import { Rng } from '../data/random.js';
import { BatchNorm } from '../nn/layers.js';
import type { TwinModel } from '../models/twin-model.js';

/**
 * Runs `batches` random batches of `images` through `model` with only its batch-norm layers in
 * training mode, so that their running statistics follow these weights and these images (with the
 * default momentum 0.1, 60 batches leave 0.2% of the old statistics). Leaves `model` in eval mode.
 * Deterministic for a given seed. Returns false when the model has no batch norm.
 */
export function refitBatchNorm(
  model: TwinModel,
  images: ImageSet,
  options: { batches: number; batchSize?: number; seed: number },
): boolean {
  const norms = [...model.namedModules()].map(([, m]) => m).filter((m) => m instanceof BatchNorm);
  if (norms.length === 0) return false;
  model.eval();
  for (const norm of norms) norm.train();
  const rng = new Rng(options.seed);
  const size = Math.min(options.batchSize ?? 256, images.size);
  for (let b = 0; b < options.batches; b++) {
    const indices = rng.sample(size, images.size);
    tidy(() => noGrad(() => void model.embed(images.batch(indices))));
  }
  model.eval();
  return true;
}
