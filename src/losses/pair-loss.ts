// Koch et al.'s objective (section 3.2): binary cross-entropy on the twin network's same-class
// probability; the layer-wise L2 term is applied as per-group weight decay (2 * lambda) by the trainer.
import { noGrad } from '../engine/autograd.js';
import type { Tensor } from '../engine/tensor.js';
import * as F from '../nn/functional.js';
import type { TwinModel } from '../models/twin-model.js';
import { labelMasks } from './miners.js';

/** BCE between pair logits [k] and targets [k] (1 = same class). */
export function pairBceLoss(logits: Tensor, sameClass: Tensor): Tensor {
  return F.binaryCrossEntropyWithLogits(logits, sameClass.float());
}

/**
 * Koch's loss over every pair of a P x K batch from one embedding pass: all positive pairs and
 * all negative pairs, each set weighted to half the loss so the classes stay balanced.
 */
export function allPairsBceLoss(model: TwinModel, embeddings: Tensor, labels: Tensor): Tensor {
  const logits = model.pairLogitMatrix(embeddings, embeddings);
  const { positive, negative } = noGrad(() => labelMasks(labels));
  const target = positive.float();
  const weights = noGrad(() => {
    const pos = Math.max(positive.sum().item(), 1);
    const neg = Math.max(negative.sum().item(), 1);
    return positive
      .float()
      .div(2 * pos)
      .add(negative.float().div(2 * neg));
  });
  return F.binaryCrossEntropyWithLogits(logits, target, { weight: weights, reduction: 'sum' });
}
