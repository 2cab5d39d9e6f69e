// The interface every twinshot network answers through: embeddings, pair scores, distance matrices.
import type { Tensor } from '../engine/tensor.js';
import { Module } from '../nn/module.js';

export abstract class TwinModel extends Module {
  /** Embeds images [N, C, H, W] (float in [0, 1]) into codes [N, D]. */
  abstract embed(images: Tensor): Tensor;

  /** Logits that each pair (a[i], b[i]) of codes shows the same class: higher is more alike. [N] */
  abstract pairLogits(a: Tensor, b: Tensor): Tensor;

  /** Dissimilarity of each row pair (a[i], b[i]), on the scale of distanceMatrix. [N] */
  abstract pairDistances(a: Tensor, b: Tensor): Tensor;

  /** Same-class logits for every pair (a[i], b[j]). [n, m] */
  abstract pairLogitMatrix(a: Tensor, b: Tensor): Tensor;

  /** Dissimilarity of every code in a [n, D] to every code in b [m, D]: lower is more alike. [n, m] */
  abstract distanceMatrix(a: Tensor, b: Tensor): Tensor;

  /** Probability that two images show the same class (both passes share the weights). */
  forward(x1: Tensor, x2?: Tensor): Tensor {
    if (x2 === undefined) return this.embed(x1);
    return this.pairLogits(this.embed(x1), this.embed(x2)).sigmoid();
  }
}
