// Embedding networks for metric learning: a backbone, optional global pooling and linear head,
// optional L2 normalisation, and a distance; a two-parameter pair head turns distances into
// same-class logits (logit = scale * (offset - d)), which Koch's pair loss trains directly.
import { ones, scalar, type Tensor } from '../engine/tensor.js';
import { Linear } from '../nn/layers.js';
import * as F from '../nn/functional.js';
import { ArgumentError } from '../errors.js';
import { ConvBackbone, ResNetBackbone } from './backbones.js';
import { TwinModel } from './twin-model.js';
import { PairComparator } from './pair-comparator.js';

export type EmbeddingDistance = 'euclidean' | 'squared-euclidean' | 'cosine';

export interface EmbeddingNetOptions {
  backbone: 'conv' | 'resnet';
  /** Channels of each block; the input side halves at every pooled block. */
  channels: readonly number[];
  inputSize: number;
  /** Pool the last block (false keeps its map: a larger, more detailed embedding). */
  poolLast?: boolean;
  /** Average-pool the final map to 1x1 before the head. */
  globalPool?: boolean;
  /** Linear projection to this many dimensions (omit for the flattened features). */
  embeddingDim?: number | null;
  /** Scale embeddings to unit length (FaceNet). */
  normalize?: boolean;
  distance?: EmbeddingDistance;
  /** A pair comparator reading the map after this many blocks (see pair-comparator.ts). */
  comparator?: ComparatorOptions | null;
}

export interface ComparatorOptions {
  /** Blocks after which the comparator reads the map (1 = the first block's pooled output). */
  block: number;
  /** Channels of the compact per-image map. */
  channels: number;
  /** Width of the relation network. */
  hidden: number;
  /** Read the block's map before its pooling (conv backbones): twice the side, four times the locations. */
  beforePool?: boolean;
  /** Feed the pair's embedding distance to the answer too. */
  useDistance: boolean;
}

/** An image's embedding and, with a comparator, its compact map. */
export interface ImageCodes {
  embedding: Tensor;
  features: Tensor | null;
}

/** Distances between rows of a [n, D] and rows of b [m, D]. */
export function pairwiseDistances(a: Tensor, b: Tensor, distance: EmbeddingDistance): Tensor {
  switch (distance) {
    case 'euclidean':
      return a.cdist(b);
    case 'squared-euclidean':
      // ||a||^2 + ||b||^2 - 2ab, clamped: exact cdist squared has an undefined gradient at 0.
      return a.square().sum(1, true).add(b.square().sum(1).unsqueeze(0)).sub(a.matmul(b.t()), 2).clampMin(0);
    case 'cosine':
      return F.normalize(a).matmul(F.normalize(b).t()).rsub(1);
  }
}

/** Distance between each row pair (a[i], b[i]). */
export function rowDistances(a: Tensor, b: Tensor, distance: EmbeddingDistance): Tensor {
  switch (distance) {
    case 'euclidean':
      return F.pairwiseDistance(a, b, { eps: 0 });
    case 'squared-euclidean':
      return a.sub(b).square().sum(1);
    case 'cosine':
      return F.cosineSimilarity(a, b).rsub(1);
  }
}

export class EmbeddingNet extends TwinModel {
  readonly backbone: ConvBackbone | ResNetBackbone;
  readonly head: Linear | null;
  /** logit = scale * (offset - distance): the pair head, learned with Koch's loss or fitted afterwards. */
  readonly pairScale: Tensor;
  readonly pairOffset: Tensor;
  readonly distance: EmbeddingDistance;
  readonly featureSize: number;
  readonly comparator: PairComparator | null;

  constructor(readonly options: EmbeddingNetOptions) {
    super();
    if (options.channels.length === 0) throw new ArgumentError('EmbeddingNet: channels must list at least one block');
    const Backbone = options.backbone === 'resnet' ? ResNetBackbone : options.backbone === 'conv' ? ConvBackbone : undefined;
    if (Backbone === undefined) throw new ArgumentError(`EmbeddingNet: backbone must be 'conv' or 'resnet'; got '${options.backbone}'`);
    this.backbone = this.registerModule('backbone', new Backbone(options.channels, { poolLast: options.poolLast }));
    const pools = options.channels.length - (options.poolLast === false ? 1 : 0);
    const sideAfter = (blocks: number) => {
      let side = options.inputSize;
      for (let i = 0; i < Math.min(blocks, pools); i++) side = Math.floor(side / 2);
      return side;
    };
    const side = sideAfter(options.channels.length);
    if (side < 1) throw new ArgumentError(`EmbeddingNet: inputSize ${options.inputSize} is too small for ${pools} pooling stages`);
    const channels = options.channels[options.channels.length - 1]!;
    const flat = options.globalPool ? channels : channels * side * side;
    this.head = options.embeddingDim ? this.registerModule('head', new Linear(flat, options.embeddingDim)) : null;
    this.featureSize = options.embeddingDim ?? flat;
    this.distance = options.distance ?? 'euclidean';
    this.pairScale = this.registerParameter('pair_scale', ones([]).mul(this.distance === 'cosine' ? 10 : 1));
    this.pairOffset = this.registerParameter('pair_offset', scalar(this.distance === 'cosine' ? 0.5 : 1));
    const c = options.comparator ?? null;
    if (c !== null && !(Number.isInteger(c.block) && c.block >= 1 && c.block <= options.channels.length))
      throw new ArgumentError(
        `EmbeddingNet: comparator.block must be a block number from 1 to ${options.channels.length}; got ${c.block}`,
      );
    if (c?.beforePool && options.backbone !== 'conv')
      throw new ArgumentError("EmbeddingNet: comparator.beforePool needs the 'conv' backbone (residual blocks pool inside)");
    this.comparator =
      c === null
        ? null
        : this.registerModule(
            'comparator',
            new PairComparator({
              inChannels: options.channels[c.block - 1]!,
              side: c.beforePool ? sideAfter(c.block - 1) : sideAfter(c.block),
              channels: c.channels,
              hidden: c.hidden,
              useDistance: c.useDistance,
            }),
          );
  }

  /** The embedding and, with a comparator, each image's compact map, from one pass. */
  embedWithFeatures(images: Tensor): ImageCodes {
    if (this.comparator === null) return { embedding: this.embed(images), features: null };
    const { block, beforePool } = this.options.comparator!;
    const { out, tap } =
      this.backbone instanceof ConvBackbone
        ? this.backbone.forwardWithTap(images, block, beforePool ?? false)
        : this.backbone.forwardWithTap(images, block);
    return { embedding: this.finish(out), features: this.comparator.project(tap) };
  }

  embed(images: Tensor): Tensor {
    return this.finish(this.backbone.forward(images));
  }

  /** Pooling, head and normalisation of the backbone's output. */
  private finish(map: Tensor): Tensor {
    let h = map;
    h = this.options.globalPool ? F.adaptiveAvgPool2d(h, 1).flatten(1) : h.flatten(1);
    if (this.head !== null) h = this.head.forward(h);
    return this.options.normalize ? F.normalize(h) : h;
  }

  distanceMatrix(a: Tensor, b: Tensor): Tensor {
    return pairwiseDistances(a, b, this.distance);
  }

  pairDistances(a: Tensor, b: Tensor): Tensor {
    return rowDistances(a, b, this.distance);
  }

  pairLogitMatrix(a: Tensor, b: Tensor): Tensor {
    return this.pairOffset.sub(this.distanceMatrix(a, b)).mul(this.pairScale);
  }

  pairLogits(a: Tensor, b: Tensor): Tensor {
    return this.pairOffset.sub(rowDistances(a, b, this.distance)).mul(this.pairScale);
  }
}
