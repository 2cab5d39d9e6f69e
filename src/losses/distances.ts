// Distances between embeddings, from one matrix per batch (pytorch-metric-learning's decomposition).
// All are dissimilarities: lower means more alike (cosine distance is 1 - cosine similarity).
import type { Tensor } from '../engine/tensor.js';
import * as F from '../nn/functional.js';

export interface Distance {
  readonly name: string;
  /** [n, D] x [m, D] -> [n, m] */
  matrix(query: Tensor, reference: Tensor): Tensor;
  /** Row pairs [k, D] x [k, D] -> [k] */
  pairs(a: Tensor, b: Tensor): Tensor;
}

/** Euclidean distance, optionally squared (FaceNet uses squared) and on unit-length embeddings. */
export class LpDistance implements Distance {
  readonly name: string;
  readonly squared: boolean;
  readonly normalize: boolean;

  constructor(options: { squared?: boolean; normalize?: boolean } = {}) {
    this.squared = options.squared ?? false;
    this.normalize = options.normalize ?? false;
    this.name = `${this.normalize ? 'normalized ' : ''}${this.squared ? 'squared ' : ''}euclidean`;
  }

  matrix(query: Tensor, reference: Tensor): Tensor {
    const q = this.normalize ? F.normalize(query) : query;
    const r = this.normalize ? F.normalize(reference) : reference;
    // The expanded form keeps the gradient finite where two embeddings coincide (cdist's is NaN at 0).
    const squared = q.square().sum(1, true).add(r.square().sum(1).unsqueeze(0)).sub(q.matmul(r.t()), 2).clampMin(0);
    return this.squared ? squared : squared.add(1e-12).sqrt();
  }

  pairs(a: Tensor, b: Tensor): Tensor {
    const x = this.normalize ? F.normalize(a) : a;
    const y = this.normalize ? F.normalize(b) : b;
    const squared = x.sub(y).square().sum(1);
    return this.squared ? squared : squared.add(1e-12).sqrt();
  }
}

/** 1 - cosine similarity, in [0, 2]. */
export class CosineDistance implements Distance {
  readonly name = 'cosine';

  matrix(query: Tensor, reference: Tensor): Tensor {
    return F.normalize(query).matmul(F.normalize(reference).t()).rsub(1);
  }

  pairs(a: Tensor, b: Tensor): Tensor {
    return F.cosineSimilarity(a, b).rsub(1);
  }
}

export function distanceByName(name: 'euclidean' | 'squared-euclidean' | 'cosine', normalize = false): Distance {
  if (name === 'cosine') return new CosineDistance();
  return new LpDistance({ squared: name === 'squared-euclidean', normalize });
}
