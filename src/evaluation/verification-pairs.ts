// Balanced same/different pairs of an image set, scored by a model: the embedding's distance and,
// with a pair comparator, its logit. Shared by calibration at training time and by `eval`.
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import type { ImageSet } from '../data/dataset.js';
import { PairSampler } from '../data/samplers.js';
import type { InferenceModel } from '../models/inference.js';
import { encodeIndices } from './one-shot.js';
import type { VerificationMetrics } from './verification.js';

/**
 * Distances of balanced same/different pairs of `set`, for calibration and verification metrics,
 * and, for a model with a pair comparator, its logits for the same pairs.
 */
export function verificationPairs(
  inference: InferenceModel,
  set: ImageSet,
  pairs: number,
  seed: number,
  options: { sameGroupNegatives?: boolean } = {},
): { distances: number[]; logits: number[] | null; same: boolean[] } {
  const sampler = new PairSampler(set, { batchSize: pairs, seed, sameGroupNegatives: options.sameGroupNegatives });
  const batch = sampler.next();
  const codes = encodeIndices(inference, set, [...batch.left, ...batch.right]);
  try {
    return noGrad(() =>
      tidy(() => {
        const left = codes.embedding.narrow(0, 0, pairs);
        const right = codes.embedding.narrow(0, pairs, pairs);
        const distances = inference.pairDistances(left, right);
        const logits =
          codes.features === null
            ? null
            : inference
                .compare(codes.features.narrow(0, 0, pairs), codes.features.narrow(0, pairs, pairs), distances)
                .toArray();
        return { distances: distances.toArray(), logits, same: Array.from(batch.targets, (t) => t === 1) };
      }),
    );
  } finally {
    codes.embedding.dispose();
    codes.features?.dispose();
  }
}

/** Verification metrics measured on negated logits, with thresholds turned back into logits. */
export function comparatorVerification(negated: VerificationMetrics): VerificationMetrics {
  return { ...negated, bestThreshold: -negated.bestThreshold };
}
