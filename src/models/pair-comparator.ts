// The pair comparator: a head that looks at two images' spatial feature maps together and answers
// "same class?" with one logit (the twin network as Koch et al. 2015 meant it: two inputs, one
// answer). Each location of one map attends to every location of the other (cross-attention, so a
// stroke drawn a little elsewhere still finds its match), and a small network judges each location
// against what it matched (relation-network style, Sung et al. 2018), both ways, pooled.
import { noGrad } from '../engine/autograd.js';
import { cat, randn, scalar, type Tensor } from '../engine/tensor.js';
import { ArgumentError } from '../errors.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as F from '../nn/functional.js';

export interface PairComparatorOptions {
  /** Channels of the backbone map the comparator reads. */
  inChannels: number;
  /** Side of that (square) map. */
  side: number;
  /** Channels of the compact per-image map (what a gallery stores per example). */
  channels: number;
  /** Width of the per-location relation network. */
  hidden: number;
  /**
   * Add minus the pair's embedding distance to the answer, with a learned weight starting at 1:
   * the comparator then starts as the embedding's own ranking and learns what to correct in it.
   */
  useDistance: boolean;
}

/**
 * Per image, `project` turns the backbone's map [N, C, S, S] into the compact map [N, S*S*d] (a 1x1
 * convolution with batch norm and ReLU), computed once and stored; per pair, `compare` reads two
 * compact maps and returns the same-class logit. Symmetric: compare(a, b) = compare(b, a).
 */
export class PairComparator extends Module {
  readonly proj: Conv2d;
  readonly projBn: BatchNorm2d;
  /** Learned position code added to both maps before attention, so nearby locations are preferred. */
  readonly position: Tensor;
  readonly attentionScale: Tensor;
  readonly relation1: Linear;
  readonly relation2: Linear;
  readonly out: Linear;
  readonly distanceWeight: Tensor;
  /**
   * The same-or-not loss reads scale * logit + bias: its own calibration, so that fitting
   * probabilities never bends the ranking (the logits' scale is the ranking loss's).
   */
  readonly pairScale: Tensor;
  readonly pairBias: Tensor;
  readonly locations: number;

  constructor(readonly options: PairComparatorOptions) {
    super();
    const { inChannels, side, channels, hidden } = options;
    for (const [name, value] of Object.entries({ inChannels, side, channels, hidden })) {
      if (!Number.isInteger(value) || value < 1)
        throw new ArgumentError(`PairComparator: ${name} must be a positive integer; got ${value}`);
    }
    this.locations = side * side;
    this.proj = this.registerModule('proj', new Conv2d(inChannels, channels, 1, { bias: false }));
    this.projBn = this.registerModule('proj_bn', new BatchNorm2d(channels));
    this.position = this.registerParameter('position', randn([1, this.locations, channels]).mul(0.1));
    this.attentionScale = this.registerParameter('attention_scale', scalar(10));
    this.relation1 = this.registerModule('relation1', new Linear(4 * channels, hidden));
    this.relation2 = this.registerModule('relation2', new Linear(hidden, hidden));
    this.out = this.registerModule('out', new Linear(2 * hidden, 1));
    // With the distance, the relation network starts silent: the first answer is the embedding's.
    if (options.useDistance) noGrad(() => this.out.weight.zero_());
    this.distanceWeight = this.registerParameter('distance_weight', scalar(options.useDistance ? 1 : 0));
    this.pairScale = this.registerParameter('pair_scale', scalar(1));
    this.pairBias = this.registerParameter('pair_bias', scalar(0));
  }

  /** Length of one image's compact map, flattened. */
  get featureSize(): number {
    return this.locations * this.options.channels;
  }

  /** The compact map of each image, [N, C, S, S] -> [N, S*S*d] (location-major). */
  project(map: Tensor): Tensor {
    const h = F.relu(this.projBn.forward(this.proj.forward(map)));
    return h.flatten(2).transpose(1, 2).flatten(1);
  }

  /**
   * Same-class logits of row pairs of compact maps a, b [P, S*S*d]; `distances` [P] are the pairs'
   * embedding distances (used when `useDistance`).
   */
  compare(a: Tensor, b: Tensor, distances?: Tensor): Tensor {
    const d = this.options.channels;
    const pairs = a.shape[0]!;
    const ta = a.view(pairs, this.locations, d);
    const tb = b.view(pairs, this.locations, d);
    // Attention on directions (cosine), values are the maps themselves.
    const qa = F.normalize(ta.add(this.position), { dim: 2 });
    const qb = F.normalize(tb.add(this.position), { dim: 2 });
    const scores = qa.matmul(qb.transpose(1, 2)).mul(this.attentionScale); // [P, L, L]
    const aFromB = F.softmax(scores, 2).matmul(tb);
    const bFromA = F.softmax(scores.transpose(1, 2), 2).matmul(ta);
    const pooled = this.relate(ta, aFromB).add(this.relate(tb, bFromA)); // [P, 2h]
    let logit = this.out.forward(pooled).squeeze(1);
    if (this.options.useDistance && distances !== undefined) logit = logit.sub(distances.mul(this.distanceWeight));
    return logit;
  }

  /** Logits as the same-or-not loss reads them (a learned affine map of compare's). */
  calibrate(logits: Tensor): Tensor {
    return logits.mul(this.pairScale).add(this.pairBias);
  }

  /** The logits of pairs of compact maps (see compare). */
  forward(a: Tensor, b: Tensor): Tensor {
    return this.compare(a, b);
  }

  /** Each location against what it matched in the other map, then mean and max over locations. */
  private relate(own: Tensor, matched: Tensor): Tensor {
    const joint = F.relu(
      this.relation1.forward(cat([own, matched, own.sub(matched).abs(), own.mul(matched)], 2)),
    );
    const h = F.relu(this.relation2.forward(joint)); // [P, L, h]
    return cat([h.mean(1), h.amax(1)], 1);
  }
}
