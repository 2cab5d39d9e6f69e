// Test-time fine-tuning on a task's support set, before its queries are classified: a few Adam
// steps of the prototypical loss in which the clean support images are the prototypes and random
// affine distortions of them are the queries, so the network learns to tell this task's classes
// apart under the variation that separates two drawers. Batch-norm statistics stay frozen, and the
// weights are put back after every task, so tasks stay independent. (Fine-tuning on the support
// set as in Chen et al. 2019, "A Closer Look at Few-shot Classification", and Dhillon et al.
// 2020, "A Baseline for Few-Shot Image Classification".)
import { tidy, keep, disposeAll } from '../engine/scope.js';
import { noGrad } from '../engine/autograd.js';
import { cat, tensor, type Device, type Tensor } from '../engine/tensor.js';
import { RandomAffine, type RandomAffineOptions } from '../data/augment.js';
import { Rng } from '../data/random.js';
import { TwinshotError } from '../errors.js';
import { EmbeddingNet } from '../models/embedding-net.js';
import { EnsembleNet } from '../models/ensemble.js';
import type { TwinModel } from '../models/twin-model.js';
import * as F from '../nn/functional.js';
import { Adam } from '../optim/adam.js';

export interface AdaptationOptions {
  /** Adam steps per task. */
  steps: number;
  /** Learning rate (default 1e-4: larger rates forget what training taught). */
  lr?: number;
  /** Distorted copies of each support image in every step (default 4). */
  distortions?: number;
  /** The distortions (default: Koch et al.'s, each component with probability 0.5). */
  augment?: RandomAffineOptions;
  /** Seed of the distortions; the same seed gives the same adapted answers. */
  seed?: number;
}

export const DEFAULT_ADAPTATION_LR = 1e-4;
export const DEFAULT_ADAPTATION_DISTORTIONS = 4;

/** The networks adaptation tunes: an ensemble's members one by one, or the embedding network. */
function tunableNets(model: TwinModel): EmbeddingNet[] {
  if (model instanceof EnsembleNet) return [...model.members];
  if (model instanceof EmbeddingNet) return [model];
  throw new TwinshotError(
    'ERR_ARGUMENT',
    `support-set adaptation tunes embedding networks and their ensembles; this model is a ${model.constructor.name}`,
  );
}

function tunableParameters(net: EmbeddingNet): Tensor[] {
  return [...net.backbone.parameters(), ...(net.head?.parameters() ?? [])];
}

export class SupportAdapter {
  readonly steps: number;
  readonly lr: number;
  readonly distortions: number;
  readonly #nets: EmbeddingNet[];
  readonly #saved: Tensor[][];
  readonly #augment: RandomAffine;
  readonly #rng: Rng;

  constructor(model: TwinModel, options: AdaptationOptions) {
    if (!(Number.isInteger(options.steps) && options.steps >= 1))
      throw new TwinshotError('ERR_ARGUMENT', `adaptation steps must be a whole number >= 1; got ${options.steps}`);
    this.steps = options.steps;
    this.lr = options.lr ?? DEFAULT_ADAPTATION_LR;
    if (!(this.lr > 0 && Number.isFinite(this.lr)))
      throw new TwinshotError('ERR_ARGUMENT', `the adaptation learning rate must be a number > 0; got ${this.lr}`);
    this.distortions = options.distortions ?? DEFAULT_ADAPTATION_DISTORTIONS;
    if (!(Number.isInteger(this.distortions) && this.distortions >= 1))
      throw new TwinshotError(
        'ERR_ARGUMENT',
        `adaptation distortions must be a whole number >= 1; got ${this.distortions}`,
      );
    this.#nets = tunableNets(model);
    this.#saved = this.#nets.map((net) => noGrad(() => tunableParameters(net).map((p) => keep(p.detach().clone()))));
    this.#augment = new RandomAffine(options.augment ?? {});
    this.#rng = new Rng(options.seed ?? 0);
  }

  /**
   * Tunes every network on one task's support images [way * shot, C, S, S], laid out class by
   * class. Call restore() once the task is classified.
   */
  adapt(support: Tensor, way: number): void {
    const n = support.shape[0]!;
    const shot = n / way;
    if (!Number.isInteger(shot) || shot < 1)
      throw new TwinshotError('ERR_ARGUMENT', `adapt(): ${n} support images do not split into ${way} classes`);
    const labels = tensor(
      Array.from({ length: n * this.distortions }, (_, i) => Math.floor((i % n) / shot)),
      { dtype: 'int64', device: support.device as Device },
    );
    try {
      for (const net of this.#nets) {
        const wasTraining = net.isTraining;
        net.eval(); // batch norm keeps its running statistics: one task's batch is too small to estimate them
        const optimizer = new Adam(tunableParameters(net), { lr: this.lr });
        try {
          for (let step = 0; step < this.steps; step++) {
            tidy(() => {
              optimizer.zeroGrad();
              const distorted = this.#augment.apply(cat(new Array<Tensor>(this.distortions).fill(support)), this.#rng);
              const codes = net.embed(cat([support, distorted]));
              const prototypes = codes.narrow(0, 0, n).view(way, shot, -1).mean(1);
              const logits = net.distanceMatrix(codes.narrow(0, n, n * this.distortions), prototypes).neg();
              F.crossEntropy(logits, labels).backward();
              optimizer.step();
            });
          }
        } finally {
          optimizer.zeroGrad();
          disposeAll([...optimizer.stateDict().tensors.values()]); // the moments, now rather than at collection
          net.train(wasTraining);
        }
      }
    } finally {
      labels.dispose();
    }
  }

  /** Puts back the weights the networks had before adapt(). */
  restore(): void {
    noGrad(() =>
      this.#nets.forEach((net, i) => tunableParameters(net).forEach((p, j) => p.copy_(this.#saved[i]![j]!))),
    );
  }

  dispose(): void {
    this.restore();
    disposeAll(this.#saved);
  }
}
