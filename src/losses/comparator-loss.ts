// The pair comparator's loss on an episode: each query against the supports of its nearest classes
// by embedding (the hard negatives, mined without gradients, with the right class always among
// them), ranked by the comparator's logits (cross-entropy over the candidates: what re-ranking at
// test time asks) and judged pair by pair (binary cross-entropy, balanced: what verification asks).
import { noGrad } from '../engine/autograd.js';
import { tensor, type Device, type Tensor } from '../engine/tensor.js';
import { ArgumentError } from '../errors.js';
import * as F from '../nn/functional.js';
import type { Distance } from './distances.js';

export interface ComparatorEpisode {
  /** Embeddings of the episode's supports (class by class, `shot` each) then its queries. [n, D] */
  embeddings: Tensor;
  /** The comparator features of the same images, in the same order. [n, F] */
  features: Tensor;
  way: number;
  shot: number;
  /** For each query, its class position (0 .. way-1). */
  queryLabels: ArrayLike<number>;
}

export interface ComparatorLossOptions {
  /** Nearest classes per query that the comparator ranks (the right one included). */
  candidates: number;
  rankWeight: number;
  pairWeight: number;
  distance: Distance;
  /**
   * Maps the logits to those the same-or-not loss reads (the comparator's own calibration, so that
   * fitting probabilities does not bend the ranking). Default: unchanged.
   */
  calibrate?: (logits: Tensor) => Tensor;
}

/** What the loss measured on an episode, for logs. */
export interface ComparatorLossTerms {
  /** rankWeight * rank + pairWeight * pair */
  loss: Tensor;
  /** The ranking cross-entropy and the balanced same-or-not cross-entropy, unweighted. */
  rank: Tensor;
  pair: Tensor;
  /** Share of queries whose right class was among the embedding's candidates before it was forced in. */
  recall: number;
}

/**
 * @param compare same-class logits of row pairs of features, given the pairs' embedding distances
 * @throws ArgumentError when the episode's sizes do not add up
 */
export function comparatorEpisodeLoss(
  compare: (a: Tensor, b: Tensor, distances: Tensor) => Tensor,
  episode: ComparatorEpisode,
  options: ComparatorLossOptions,
): ComparatorLossTerms {
  const { embeddings, features, way, shot, queryLabels } = episode;
  const supports = way * shot;
  const queryCount = queryLabels.length;
  if (embeddings.shape[0] !== supports + queryCount || features.shape[0] !== supports + queryCount) {
    throw new ArgumentError(
      `comparatorEpisodeLoss: expected ${supports} supports + ${queryCount} queries = ${supports + queryCount} rows; got ${embeddings.shape[0]} embeddings and ${features.shape[0]} features`,
    );
  }
  const k = Math.min(options.candidates, way);
  const support = embeddings.narrow(0, 0, supports);
  const queries = embeddings.narrow(0, supports, queryCount);
  // Mining: the nearest prototypes under the embedding, as the first stage finds them.
  const nearest = noGrad(() => {
    const prototypes = shot === 1 ? support : support.view(way, shot, -1).mean(1);
    return options.distance.matrix(queries, prototypes).topk(k, { dim: 1, largest: false }).indices.toArray();
  });
  const queryIndex: number[] = [];
  const supportIndex: number[] = [];
  const same: number[] = [];
  const target: number[] = [];
  let found = 0;
  for (let q = 0; q < queryCount; q++) {
    const row = nearest.slice(q * k, (q + 1) * k);
    const label = queryLabels[q]!;
    let at = row.indexOf(label);
    if (at >= 0) found++;
    else row[(at = k - 1)] = label;
    target.push(at);
    for (const c of row) {
      for (let s = 0; s < shot; s++) {
        queryIndex.push(supports + q);
        supportIndex.push(c * shot + s);
        same.push(c === label ? 1 : 0);
      }
    }
  }
  const device = embeddings.device as Device;
  const qi = tensor(queryIndex, { device });
  const si = tensor(supportIndex, { device });
  const distances = options.distance.pairs(embeddings.indexSelect(0, qi), embeddings.indexSelect(0, si));
  const raw = compare(features.indexSelect(0, qi), features.indexSelect(0, si), distances); // [Q * k * shot]
  // Mixed precision stops at the loss: bfloat16 logits are widened.
  const logits = raw.dtype === 'bfloat16' ? raw.float() : raw;
  const dtype = logits.dtype;
  const rank = F.crossEntropy(logits.view(queryCount, k, shot).mean(2), tensor(target, { device }));
  const positives = queryCount * shot;
  const negatives = same.length - positives;
  const weight = tensor(
    same.map((y) => (y === 1 ? 0.5 / positives : 0.5 / Math.max(negatives, 1))),
    { device, dtype },
  );
  const calibrated = options.calibrate ? options.calibrate(logits) : logits;
  const pair = F.binaryCrossEntropyWithLogits(calibrated, tensor(same, { device, dtype }), {
    weight,
    reduction: 'sum',
  });
  return {
    loss: rank.mul(options.rankWeight).add(pair.mul(options.pairWeight)),
    rank,
    pair,
    recall: found / queryCount,
  };
}
