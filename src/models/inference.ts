// Inference view of a trained network: the embeddings that get stored and searched, the distance
// the stores compute on them (l2, cosine or l1), and the same/different calibration on that distance.
// Evaluation, the CLI and the service all go through this one view, so they measure the same thing.
import { noGrad } from '../engine/autograd.js';
import { cat, tensor, type Device, type Tensor } from '../engine/tensor.js';
import { applyAffine, IDENTITY_AFFINE, type AffineParams } from '../data/augment.js';
import * as F from '../nn/functional.js';
import type { SearchMetric } from './embedder.js';
import { EmbeddingNet } from './embedding-net.js';
import {
  EmbeddingModel,
  metricDistanceMatrix,
  metricPairDistances,
  type EmbedFunction,
  type EmbeddingModelOptions,
} from './embedding-model.js';
import { Module } from '../nn/module.js';
import { Koch2015 } from './koch2015.js';
import { ArgumentError } from '../errors.js';
import { TwinModel } from './twin-model.js';

export interface InferenceSettings {
  /**
   * 'train-mean': subtract the mean training embedding, then scale to unit length (SimpleShot's
   * CL2N, Wang et al. 2019); this removes what all characters share. 'none': raw embeddings.
   */
  centering: 'none' | 'train-mean';
  /** The mean training embedding, for 'train-mean'. */
  mean?: number[];
  /**
   * Test-time augmentation: average the embeddings of this many fixed views of each image (the
   * image itself, then small rotations, scalings, shifts and a shear). Default 1.
   */
  views?: number;
  /**
   * With a pair comparator: how many of the embedding's nearest candidates it re-ranks (0: all of
   * them). Absent: 0.
   */
  rerank?: number;
}

/** The fixed test-time views, most useful first; translations are in pixels at 28x28. */
const VIEWS: readonly Partial<AffineParams>[] = [
  {},
  { rotation: 6 },
  { rotation: -6 },
  { scaleX: 1.08, scaleY: 1.08 },
  { scaleX: 0.92, scaleY: 0.92 },
  { translateX: 1 },
  { translateY: 1 },
  { shearX: 0.1 },
];
export const MAX_VIEWS = VIEWS.length;

/**
 * The affine maps of the first `views` test-time views for images of side `size`; the first is
 * the identity (the image itself). Translations are scaled from 28x28 to `size`.
 */
export function testTimeViews(views: number, size: number): AffineParams[] {
  return VIEWS.slice(0, views).map((view) => {
    const params = { ...IDENTITY_AFFINE, ...view };
    params.translateX *= size / 28;
    params.translateY *= size / 28;
    return params;
  });
}

/** Whether `views` is a count of test-time views this version has (1 to MAX_VIEWS). */
export function isViewCount(views: unknown): views is number {
  return Number.isInteger(views) && (views as number) >= 1 && (views as number) <= MAX_VIEWS;
}

export class InferenceModel {
  readonly metric: SearchMetric;
  readonly #mean: Tensor | null;
  readonly #koch: { weights: Tensor } | null;

  constructor(
    readonly model: TwinModel,
    readonly settings: InferenceSettings = { centering: 'none' },
  ) {
    const views = settings.views ?? 1;
    if (!isViewCount(views))
      throw new ArgumentError(`test-time views must be a whole number from 1 to ${MAX_VIEWS}; got ${views}`);
    this.#mean = settings.centering === 'train-mean' && settings.mean ? tensor(Float32Array.from(settings.mean), { shape: [1, settings.mean.length] }) : null;
    if (model instanceof Koch2015) {
      // logit = sum_j alpha_j |h1_j - h2_j| + b: with alpha_j <= 0 this is b minus an L1 distance of
      // codes scaled by -alpha_j, which any L1 index can search. Positive alphas (rare) are dropped.
      this.metric = 'l1';
      this.#koch = { weights: noGrad(() => model.head.weight.squeeze(0).neg().clampMin(0).unsqueeze(0)) };
    } else {
      const own: SearchMetric | null =
        model instanceof EmbeddingModel ? model.metric : model instanceof EmbeddingNet && model.distance === 'cosine' ? 'cosine' : null;
      // Centred embeddings are unit length, where l2 ranks as cosine does.
      this.metric = this.#mean === null && own !== null ? own : 'l2';
      this.#koch = null;
    }
  }

  /** The mean subtracted before normalising (centering 'train-mean'), [1, D]; null otherwise. */
  get centeringMean(): Tensor | null {
    return this.#mean;
  }

  /** Koch's head as per-dimension scales of the codes (-alpha_j, clamped at 0), [1, D]; null for other networks. */
  get codeScales(): Tensor | null {
    return this.#koch?.weights ?? null;
  }

  /** Vectors to store and compare, [N, D]. */
  embed(images: Tensor): Tensor {
    let e = this.embedViews(images);
    if (this.#mean !== null) e = F.normalize(e.sub(onDeviceOf(this.#mean, e)));
    if (this.#koch !== null) e = e.mul(onDeviceOf(this.#koch.weights, e));
    return e;
  }

  /** Whether the network has a pair comparator (see compare). */
  get hasComparator(): boolean {
    return this.model instanceof EmbeddingNet && this.model.comparator !== null;
  }

  /** Length of an image's comparator features (0 without a comparator). */
  get featureSize(): number {
    return this.model instanceof EmbeddingNet && this.model.comparator !== null ? this.model.comparator.featureSize : 0;
  }

  /**
   * The vectors to store (as `embed`) and, with a comparator, each image's compact map [N, F], from
   * one pass; the map is taken from the image itself, not averaged over views.
   */
  encode(images: Tensor): { embedding: Tensor; features: Tensor | null } {
    if (!this.hasComparator) return { embedding: this.embed(images), features: null };
    const net = this.model as EmbeddingNet;
    const views = this.settings.views ?? 1;
    const n = images.shape[0]!;
    const codes = net.embedWithFeatures(views === 1 ? images : this.viewBatch(images, views));
    let e = views === 1 ? codes.embedding : codes.embedding.view(views, n, -1).mean(0);
    if (this.#mean !== null) e = F.normalize(e.sub(onDeviceOf(this.#mean, e)));
    return { embedding: e, features: views === 1 ? codes.features : codes.features!.narrow(0, 0, n) };
  }

  /**
   * Same-class logits of row pairs of comparator features a, b [P, F]; `distances` [P] are their
   * embeddings' distances under `metric`, which the comparator may weigh in. Higher is more alike.
   * @throws ArgumentError when the network has no comparator
   */
  compare(a: Tensor, b: Tensor, distances?: Tensor): Tensor {
    if (!this.hasComparator) throw new ArgumentError('this model has no pair comparator to compare with');
    return (this.model as EmbeddingNet).comparator!.compare(a, b, distances === undefined ? undefined : this.comparatorDistance(distances));
  }

  /** The comparator was trained on the network's own distance; `metric` distances map back to it. */
  private comparatorDistance(distances: Tensor): Tensor {
    const net = this.model as EmbeddingNet;
    return net.distance === 'squared-euclidean' && this.metric === 'l2' && this.#mean === null ? distances.square() : distances;
  }

  /** The network's embedding, averaged over the test-time views. */
  private embedViews(images: Tensor): Tensor {
    const views = this.settings.views ?? 1;
    if (views === 1) return this.model.embed(images);
    const n = images.shape[0]!;
    return this.model.embed(this.viewBatch(images, views)).view(views, n, -1).mean(0);
  }

  /** The images under each of the first `views` fixed views, view by view. */
  private viewBatch(images: Tensor, views: number): Tensor {
    const size = images.shape[3]!;
    const n = images.shape[0]!;
    return cat(
      testTimeViews(views, size).map((params, v) => (v === 0 ? images : applyAffine(images, new Array(n).fill(params)))),
    );
  }

  /** Distances under `metric` between every row of a and every row of b, [n, m]. */
  distanceMatrix(a: Tensor, b: Tensor): Tensor {
    return metricDistanceMatrix(this.metric, a, b);
  }

  /** Distances of row pairs, [N]. */
  pairDistances(a: Tensor, b: Tensor): Tensor {
    return metricPairDistances(this.metric, a, b);
  }

}

/** `t` on the device of `like` (a no-op on the CPU). */
function onDeviceOf(t: Tensor, like: Tensor): Tensor {
  return t.device === like.device ? t : t.to({ device: like.device as Device });
}

/** What evaluation accepts as a network: an inference view, a twin model, any module, or a function that embeds. */
export type Embeds = InferenceModel | TwinModel | Module | EmbedFunction;

/**
 * The inference view of `source`: itself, a twin model's default view, or a module or function
 * wrapped as an {@link EmbeddingModel} with `options.metric` (default 'l2').
 * @example evaluateOneShot(asInference((x) => net.forward(x).flatten(1), { metric: 'cosine' }), set, tasks)
 */
export function asInference(source: Embeds, options: EmbeddingModelOptions = {}): InferenceModel {
  if (source instanceof InferenceModel) return source;
  if (source instanceof TwinModel) return new InferenceModel(source);
  return new InferenceModel(new EmbeddingModel(source, options));
}
