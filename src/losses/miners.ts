// In-batch miners (FaceNet; Hermans et al. 2017): each starts from one N x N distance matrix and
// the label masks, runs without gradients, and returns explicit index tuples.
import { noGrad } from '../engine/autograd.js';
import { arange, eye, full, where, type Device, type Tensor } from '../engine/tensor.js';
import { ArgumentError, DTypeError } from '../errors.js';
import type { Distance } from './distances.js';

/** Indices into the batch: pairs (anchor-positive and anchor-negative) or triplets. */
export type IndexTuple =
  | { kind: 'pairs'; a1: Tensor; p: Tensor; a2: Tensor; n: Tensor }
  | { kind: 'triplets'; a: Tensor; p: Tensor; n: Tensor };

export interface LabelMasks {
  /** same label, not the diagonal */
  positive: Tensor;
  /** different label */
  negative: Tensor;
}

/**
 * Class labels are compared for equality, so they must be whole numbers in an integer dtype: float
 * labels (0.1 + 0.2 is not 0.3) or booleans would silently pair the wrong images.
 * @throws DTypeError naming `where`, the dtype received and how to convert
 */
export function checkClassLabels(where: string, labels: Tensor): void {
  if (labels.isFloating || labels.dtype === 'bool') {
    throw new DTypeError(
      `${where}: labels must be integer class ids (int64 or int32); got ${labels.dtype}. ` +
        'tensor([0, 1, 1]) of whole numbers is int64, or convert with labels.to({ dtype: "int64" })',
    );
  }
}

export function labelMasks(labels: Tensor): LabelMasks {
  if (labels.ndim !== 1) throw new ArgumentError(`labels must be 1-d [N]; got [${labels.shape.join(', ')}]`);
  checkClassLabels('labelMasks', labels);
  const same = labels.unsqueeze(1).eq(labels.unsqueeze(0));
  const notSelf = eye(labels.shape[0]!, labels.shape[0]!, {
    dtype: 'bool',
    device: labels.device as Device,
  }).logicalNot();
  return { positive: same.logicalAnd(notSelf), negative: same.logicalNot() };
}

/** Every positive and negative pair (i < j not required: both orders, as the loss averages them). */
export function allPairs(labels: Tensor): IndexTuple {
  return noGrad(() => {
    const { positive, negative } = labelMasks(labels);
    const pos = positive.nonzero();
    const neg = negative.nonzero();
    return { kind: 'pairs', a1: pos.select(1, 0), p: pos.select(1, 1), a2: neg.select(1, 0), n: neg.select(1, 1) };
  });
}

export interface Miner {
  readonly name: string;
  mine(embeddings: Tensor, labels: Tensor): IndexTuple;
}

function checkBatch(embeddings: Tensor, labels: Tensor): void {
  if (embeddings.ndim !== 2 || labels.ndim !== 1 || embeddings.shape[0] !== labels.shape[0]) {
    throw new ArgumentError(
      `miner: embeddings must be [N, D] and labels [N]; got [${embeddings.shape.join(', ')}] and [${labels.shape.join(', ')}]`,
    );
  }
  checkClassLabels('miner', labels);
}

/**
 * Batch-all (Hermans et al. 2017): every valid triplet (a, p, n), optionally only those that
 * still violate the margin (loss > 0).
 */
export class BatchAllMiner implements Miner {
  readonly name = 'batch-all';
  constructor(
    readonly distance: Distance,
    readonly options: { margin?: number; onlyViolating?: boolean } = {},
  ) {}

  mine(embeddings: Tensor, labels: Tensor): IndexTuple {
    checkBatch(embeddings, labels);
    return noGrad(() => {
      const d = this.distance.matrix(embeddings, embeddings);
      const { positive, negative } = labelMasks(labels);
      let valid = positive.unsqueeze(2).logicalAnd(negative.unsqueeze(1)); // [a, p, n]
      if (this.options.onlyViolating) {
        const loss = d
          .unsqueeze(2)
          .sub(d.unsqueeze(1))
          .add(this.options.margin ?? 0.2);
        valid = valid.logicalAnd(loss.gt(0));
      }
      const idx = valid.nonzero();
      return { kind: 'triplets', a: idx.select(1, 0), p: idx.select(1, 1), n: idx.select(1, 2) };
    });
  }
}

/** Batch-hard (Hermans et al. 2017): per anchor, its farthest positive and nearest negative. */
export class BatchHardMiner implements Miner {
  readonly name = 'batch-hard';
  constructor(readonly distance: Distance) {}

  mine(embeddings: Tensor, labels: Tensor): IndexTuple {
    checkBatch(embeddings, labels);
    return noGrad(() => {
      const d = this.distance.matrix(embeddings, embeddings);
      const { positive, negative } = labelMasks(labels);
      const hasBoth = positive.any(1, false).logicalAnd(negative.any(1, false));
      const hardestPositive = d.maskedFill(positive.logicalNot(), -Infinity).argmax(1);
      const hardestNegative = d.maskedFill(negative.logicalNot(), Infinity).argmin(1);
      const anchors = arange(labels.shape[0]!, undefined, 1, { device: labels.device as Device }).maskedSelect(hasBoth);
      return {
        kind: 'triplets',
        a: anchors,
        p: hardestPositive.maskedSelect(hasBoth),
        n: hardestNegative.maskedSelect(hasBoth),
      };
    });
  }
}

/**
 * FaceNet's semi-hard negatives (Schroff et al. 2015, section 3.2), with TensorFlow Addons'
 * rule (`triplet_semihard_loss`): for every anchor-positive pair, the negative nearest to the
 * anchor among those farther than the positive, d(a,p) < d(a,n). Where no such negative exists,
 * TF Addons takes the negative with the largest d(a,n) (`fallback: 'largest'`, the default);
 * `fallback: 'hardest'` takes the nearest negative instead. Pairs whose anchor has no negative are skipped.
 */
export class SemiHardMiner implements Miner {
  readonly name = 'semi-hard';
  constructor(
    readonly distance: Distance,
    readonly options: { fallback?: 'largest' | 'hardest' } = {},
  ) {}

  mine(embeddings: Tensor, labels: Tensor): IndexTuple {
    checkBatch(embeddings, labels);
    return noGrad(() => {
      const d = this.distance.matrix(embeddings, embeddings);
      const { positive, negative } = labelMasks(labels);
      const pairs = positive.nonzero();
      const a = pairs.select(1, 0);
      const p = pairs.select(1, 1);
      const dap = d.index([a, p]).unsqueeze(1); // [P, 1]
      const dan = d.indexSelect(0, a); // [P, N]
      const negOfAnchor = negative.indexSelect(0, a); // [P, N]
      const beyond = negOfAnchor.logicalAnd(dan.gt(dap));
      const semiHard = dan.maskedFill(beyond.logicalNot(), Infinity).argmin(1);
      const fallback =
        this.options.fallback === 'hardest'
          ? dan.maskedFill(negOfAnchor.logicalNot(), Infinity).argmin(1)
          : dan.maskedFill(negOfAnchor.logicalNot(), -Infinity).argmax(1);
      const n = where(beyond.any(1, false), semiHard, fallback);
      const keep = negOfAnchor.any(1, false);
      return { kind: 'triplets', a: a.maskedSelect(keep), p: p.maskedSelect(keep), n: n.maskedSelect(keep) };
    });
  }
}

/** An empty triplet set (used when a batch has no valid triplet). */
export function noTriplets(): IndexTuple {
  const empty = full([0], 0, { dtype: 'int64' });
  return { kind: 'triplets', a: empty, p: empty, n: empty };
}
