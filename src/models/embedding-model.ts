// Any network or function that maps images to vectors, as a TwinModel: with a metric that says how
// its vectors compare, it can be evaluated, calibrated, enrolled and searched like a trained model,
// without writing a TwinModel subclass.
import type { Tensor } from '../engine/tensor.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { Module } from '../nn/module.js';
import * as F from '../nn/functional.js';
import type { SearchMetric } from './embedder.js';
import { TwinModel } from './twin-model.js';

/** Images [N, C, H, W] (float in [0, 1]) to vectors [N, D] (or [N, ...], flattened). */
export type EmbedFunction = (images: Tensor) => Tensor;

export interface EmbeddingModelOptions {
  /** How vectors compare: 'l2' (default), 'cosine' (1 - cosine similarity) or 'l1'. */
  metric?: SearchMetric;
}

const METRICS: readonly SearchMetric[] = ['l2', 'cosine', 'l1'];

/** Distances under `metric` between every row of a and every row of b, [n, m]. */
export function metricDistanceMatrix(metric: SearchMetric, a: Tensor, b: Tensor): Tensor {
  switch (metric) {
    case 'l2':
      return a.cdist(b);
    case 'l1':
      return a.cdist(b, 1);
    case 'cosine':
      return F.normalize(a).matmul(F.normalize(b).t()).rsub(1);
  }
}

/** Distances under `metric` of row pairs (a[i], b[i]), [N]. */
export function metricPairDistances(metric: SearchMetric, a: Tensor, b: Tensor): Tensor {
  switch (metric) {
    case 'l2':
      return a.sub(b).norm(2, 1);
    case 'l1':
      return a.sub(b).abs().sum(1);
    case 'cosine':
      return F.cosineSimilarity(a, b).rsub(1);
  }
}

/**
 * Wraps a module (its `forward`) or a function as a twin network whose pair score is the negative
 * distance under `metric`. A module is registered as `net`, so `train()`, `eval()`, `to()` and
 * optimisers reach its parameters.
 * @example
 * const net = new nn.Sequential(new nn.Conv2d(1, 32, 3), new nn.ReLU(), new nn.Flatten());
 * evaluation.evaluateOneShot(new models.EmbeddingModel(net, { metric: 'cosine' }), set, tasks);
 * @throws ArgumentError for an unknown metric or a source that is neither a Module nor a function
 */
export class EmbeddingModel extends TwinModel {
  readonly metric: SearchMetric;
  readonly #embed: EmbedFunction;

  constructor(source: Module | EmbedFunction, options: EmbeddingModelOptions = {}) {
    super();
    this.metric = options.metric ?? 'l2';
    if (!METRICS.includes(this.metric))
      throw new ArgumentError(`EmbeddingModel: metric must be one of ${METRICS.join(', ')}; got '${this.metric}'`);
    if (source instanceof Module) {
      const net = this.registerModule('net', source);
      this.#embed = (images) => net.forward(images);
    } else if (typeof source === 'function') {
      this.#embed = source;
    } else {
      throw new ArgumentError('EmbeddingModel: give a Module or a function from images [N, C, H, W] to vectors [N, D]');
    }
  }

  /** The source's output, flattened to [N, D]. */
  embed(images: Tensor): Tensor {
    const out = this.#embed(images);
    const n = images.shape[0]!;
    if (out.ndim < 2 || out.shape[0] !== n) {
      throw new ShapeError(
        `EmbeddingModel: the network must map images [${images.shape.join(', ')}] to vectors [${n}, D]; got [${out.shape.join(', ')}]`,
      );
    }
    return out.ndim === 2 ? out : out.flatten(1);
  }

  distanceMatrix(a: Tensor, b: Tensor): Tensor {
    return metricDistanceMatrix(this.metric, a, b);
  }

  pairDistances(a: Tensor, b: Tensor): Tensor {
    return metricPairDistances(this.metric, a, b);
  }


  /** The negative distance: alike pairs score higher. */
  pairLogits(a: Tensor, b: Tensor): Tensor {
    return this.pairDistances(a, b).neg();
  }

  pairLogitMatrix(a: Tensor, b: Tensor): Tensor {
    return this.distanceMatrix(a, b).neg();
  }
}
