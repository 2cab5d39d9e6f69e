// Metric-learning losses over one embedding pass: contrastive (Hadsell et al. 2006), triplet
// margin with in-batch mining (Schroff et al. 2015), and prototypical (Snell et al. 2017).
import { noGrad } from '../engine/autograd.js';
import { tensor, type Device, type Tensor } from '../engine/tensor.js';
import { ArgumentError } from '../errors.js';
import * as F from '../nn/functional.js';
import { LpDistance, type Distance } from './distances.js';
import { allPairs, BatchAllMiner, checkClassLabels, type IndexTuple, type Miner } from './miners.js';
import { reduceTerms, type LossTerm, type Reducer } from './reducers.js';

export interface MetricLoss {
  readonly name: string;
  /** Scalar loss for embeddings [N, D] with integer labels [N]; `indices` overrides the miner. */
  forward(embeddings: Tensor, labels: Tensor, indices?: IndexTuple): Tensor;
}

function checkInputs(name: string, embeddings: Tensor, labels: Tensor): void {
  if (embeddings.ndim !== 2 || labels.ndim !== 1 || embeddings.shape[0] !== labels.shape[0]) {
    throw new ArgumentError(
      `${name}: embeddings must be [N, D] and labels [N]; got [${embeddings.shape.join(', ')}] and [${labels.shape.join(', ')}]`,
    );
  }
  checkClassLabels(name, labels);
}

/** Positive pairs pull to within posMargin, negative pairs push beyond negMargin: y d^2 + (1 - y) max(m - d, 0)^2. */
export class ContrastiveLoss implements MetricLoss {
  readonly name = 'contrastive';
  readonly distance: Distance;
  readonly posMargin: number;
  readonly negMargin: number;
  readonly reducer: Reducer;

  constructor(options: { posMargin?: number; negMargin?: number; distance?: Distance; reducer?: Reducer } = {}) {
    this.posMargin = options.posMargin ?? 0;
    this.negMargin = options.negMargin ?? 1;
    this.distance = options.distance ?? new LpDistance();
    this.reducer = options.reducer ?? 'mean';
  }

  computeTerms(embeddings: Tensor, labels: Tensor, indices?: IndexTuple): LossTerm[] {
    checkInputs(this.name, embeddings, labels);
    const pairs = indices ?? allPairs(labels);
    if (pairs.kind !== 'pairs') throw new ArgumentError('ContrastiveLoss needs pair indices (a miner returning pairs)');
    const dPos = this.distance.pairs(embeddings.indexSelect(0, pairs.a1), embeddings.indexSelect(0, pairs.p));
    const dNeg = this.distance.pairs(embeddings.indexSelect(0, pairs.a2), embeddings.indexSelect(0, pairs.n));
    return [
      { kind: 'posPair', values: dPos.sub(this.posMargin).relu().square() },
      { kind: 'negPair', values: dNeg.rsub(this.negMargin).relu().square() },
    ];
  }

  forward(embeddings: Tensor, labels: Tensor, indices?: IndexTuple): Tensor {
    return reduceTerms(this.computeTerms(embeddings, labels, indices), this.reducer, embeddings);
  }
}

/** max(d(a, p) - d(a, n) + margin, 0) over mined triplets (batch-all by default). */
export class TripletMarginLoss implements MetricLoss {
  readonly name = 'triplet-margin';
  readonly margin: number;
  readonly distance: Distance;
  readonly miner: Miner;
  readonly reducer: Reducer;

  constructor(options: { margin?: number; distance?: Distance; miner?: Miner; reducer?: Reducer } = {}) {
    this.margin = options.margin ?? 0.2;
    this.distance = options.distance ?? new LpDistance();
    this.miner = options.miner ?? new BatchAllMiner(this.distance);
    this.reducer = options.reducer ?? 'avgNonZero';
  }

  computeTerms(embeddings: Tensor, labels: Tensor, indices?: IndexTuple): LossTerm[] {
    checkInputs(this.name, embeddings, labels);
    const triplets = indices ?? this.miner.mine(embeddings, labels);
    if (triplets.kind !== 'triplets') throw new ArgumentError('TripletMarginLoss needs triplet indices');
    const anchors = embeddings.indexSelect(0, triplets.a);
    const dap = this.distance.pairs(anchors, embeddings.indexSelect(0, triplets.p));
    const dan = this.distance.pairs(anchors, embeddings.indexSelect(0, triplets.n));
    return [{ kind: 'triplet', values: dap.sub(dan).add(this.margin).relu() }];
  }

  forward(embeddings: Tensor, labels: Tensor, indices?: IndexTuple): Tensor {
    return reduceTerms(this.computeTerms(embeddings, labels, indices), this.reducer, embeddings);
  }

  /** Active triplets and mean distances, for logs. */
  statistics(
    embeddings: Tensor,
    labels: Tensor,
  ): { triplets: number; active: number; meanPositive: number; meanNegative: number } {
    return noGrad(() => {
      const t = this.miner.mine(embeddings, labels);
      if (t.kind !== 'triplets' || t.a.numel() === 0)
        return { triplets: 0, active: 0, meanPositive: 0, meanNegative: 0 };
      const anchors = embeddings.indexSelect(0, t.a);
      const dap = this.distance.pairs(anchors, embeddings.indexSelect(0, t.p));
      const dan = this.distance.pairs(anchors, embeddings.indexSelect(0, t.n));
      return {
        triplets: t.a.numel(),
        active: dap.sub(dan).add(this.margin).gt(0).sum().item(),
        meanPositive: dap.mean().item(),
        meanNegative: dan.mean().item(),
      };
    });
  }
}

/**
 * Prototypical loss (Snell et al. 2017): in each class of the batch the first `shots` images are
 * the support set, whose mean is the prototype; the rest are queries classified by softmax over
 * -d(query, prototype) (squared Euclidean by default, as in the paper).
 */
export class PrototypicalLoss implements MetricLoss {
  readonly name = 'prototypical';
  readonly shots: number;
  readonly distance: Distance;
  readonly temperature: number;

  constructor(options: { shots?: number; distance?: Distance; temperature?: number } = {}) {
    this.shots = options.shots ?? 1;
    this.distance = options.distance ?? new LpDistance({ squared: true });
    this.temperature = options.temperature ?? 1;
  }

  forward(embeddings: Tensor, labels: Tensor): Tensor {
    checkInputs(this.name, embeddings, labels);
    const { support, query, queryTargets, classes } = noGrad(() => splitEpisode(labels, this.shots));
    const dim = embeddings.shape[1]!;
    const prototypes = embeddings.indexSelect(0, support).view(classes, this.shots, dim).mean(1);
    const logits = this.distance.matrix(embeddings.indexSelect(0, query), prototypes).mul(-1 / this.temperature);
    return F.crossEntropy(logits, queryTargets);
  }
}

/** Splits a batch grouped by class into support/query indices (the first `shots` of each class are support). */
export function splitEpisode(
  labels: Tensor,
  shots: number,
): { support: Tensor; query: Tensor; queryTargets: Tensor; classes: number } {
  const values = labels.toArray();
  const byClass = new Map<number, number[]>();
  values.forEach((label, i) => {
    const list = byClass.get(label) ?? [];
    list.push(i);
    byClass.set(label, list);
  });
  const support: number[] = [];
  const query: number[] = [];
  const targets: number[] = [];
  let c = 0;
  for (const [label, members] of byClass) {
    if (members.length <= shots) {
      throw new ArgumentError(
        `PrototypicalLoss: class ${label} has ${members.length} images; each needs more than shots = ${shots}`,
      );
    }
    support.push(...members.slice(0, shots));
    for (const q of members.slice(shots)) {
      query.push(q);
      targets.push(c);
    }
    c++;
  }
  const device = labels.device as Device;
  return {
    support: tensor(support, { device }),
    query: tensor(query, { device }),
    queryTargets: tensor(targets, { device }),
    classes: c,
  };
}
