// Reducers turn per-pair or per-triplet loss values into one scalar.
import type { Tensor } from '../engine/tensor.js';

export type LossTermKind = 'triplet' | 'posPair' | 'negPair' | 'element';

export interface LossTerm {
  kind: LossTermKind;
  /** One loss value per triplet, pair or element. */
  values: Tensor;
}

export type Reducer = 'mean' | 'sum' | 'avgNonZero';

/** Reduces each term, then adds the terms (pair losses add their positive and negative parts). */
export function reduceTerms(terms: readonly LossTerm[], reducer: Reducer, anchor: Tensor): Tensor {
  // Multiplying the embeddings by 0 keeps an empty loss connected to the graph, so backward() works.
  let total = anchor.sum().mul(0);
  for (const term of terms) {
    const count = term.values.numel();
    if (count === 0) continue;
    switch (reducer) {
      case 'sum':
        total = total.add(term.values.sum());
        break;
      case 'mean':
        total = total.add(term.values.mean());
        break;
      case 'avgNonZero': {
        const nonZero = term.values.gt(0).sum().item();
        total = total.add(term.values.sum().div(Math.max(nonZero, 1)));
        break;
      }
    }
  }
  return total;
}
