// N-way K-shot evaluation: embed every image a set of tasks needs once, then classify each query
// by its nearest class (embedding distance, or the model's pair score for Koch-style heads).
import { noGrad } from '../engine/autograd.js';
import { tidy, keep, disposeAll } from '../engine/scope.js';
import { cat, tensor, type Tensor } from '../engine/tensor.js';
import type { ImageSet } from '../data/dataset.js';
import type { OneShotTask } from '../data/one-shot.js';
import { EmbeddingNet } from '../models/embedding-net.js';
import type { TwinModel } from '../models/twin-model.js';
import { estimateAccuracy, type AccuracyEstimate } from './statistics.js';

/** A task; `way` is needed when the support holds several shots per class. */
export type EvalTask = OneShotTask & { way?: number };

export interface OneShotOptions {
  batchSize?: number;
  /**
   * Subtract the mean support embedding of each task before measuring distances (embedding nets
   * only). Within an alphabet this removes what all its characters share.
   */
  centering?: boolean;
}

export interface OneShotResult extends AccuracyEstimate {
  /** Accuracy per group (alphabet or run). */
  perGroup: Record<string, AccuracyEstimate>;
}

/** Embeds images of `set` at `indices` in eval mode without gradients; returns [n, D]. */
export function embedIndices(model: TwinModel, set: ImageSet, indices: ArrayLike<number>, batchSize = 256): Tensor {
  const wasTraining = model.isTraining;
  model.eval();
  try {
    return noGrad(() => {
      const parts: Tensor[] = [];
      for (let start = 0; start < indices.length; start += batchSize) {
        const chunk = Array.from({ length: Math.min(batchSize, indices.length - start) }, (_, i) => indices[start + i]!);
        parts.push(tidy(() => model.embed(set.batch(chunk))));
      }
      const out = parts.length === 1 ? parts[0]! : cat(parts);
      if (parts.length > 1) disposeAll(parts);
      return out;
    });
  } finally {
    model.train(wasTraining);
  }
}

/**
 * Classifies every query of every task; a query is right when its nearest class is the answer.
 * Tasks' `support` lists way * shot images class by class; `answers` holds class positions.
 */
export function evaluateOneShot(model: TwinModel, set: ImageSet, tasks: readonly EvalTask[], options: OneShotOptions = {}): OneShotResult {
  const unique = [...new Set(tasks.flatMap((t) => [...t.support, ...t.queries]))];
  const row = new Map(unique.map((index, i) => [index, i]));
  const embeddings = keep(embedIndices(model, set, unique, options.batchSize));
  const groupCounts = new Map<string, { correct: number; trials: number }>();
  let correct = 0;
  let trials = 0;
  try {
    for (const task of tasks) {
      const predictions = tidy(() =>
        noGrad(() => classify(model, embeddings, task, row, options.centering ?? false)),
      );
      const counts = groupCounts.get(task.name.split(':')[0]!) ?? { correct: 0, trials: 0 };
      predictions.forEach((predicted, q) => {
        const ok = predicted === task.answers[q];
        correct += ok ? 1 : 0;
        counts.correct += ok ? 1 : 0;
        counts.trials += 1;
      });
      trials += predictions.length;
      groupCounts.set(task.name.split(':')[0]!, counts);
    }
  } finally {
    embeddings.dispose();
  }
  const perGroup = Object.fromEntries([...groupCounts].map(([name, c]) => [name, estimateAccuracy(c.correct, c.trials)]));
  return { ...estimateAccuracy(correct, trials), perGroup };
}

function classify(model: TwinModel, embeddings: Tensor, task: OneShotTask, row: Map<number, number>, centering: boolean): number[] {
  const ways = (task as EvalTask).way ?? task.support.length;
  const shot = task.support.length / ways;
  let support = embeddings.indexSelect(0, tensor(Array.from(task.support, (i) => row.get(i)!)));
  let queries = embeddings.indexSelect(0, tensor(Array.from(task.queries, (i) => row.get(i)!)));
  if (centering && model instanceof EmbeddingNet) {
    const mean = support.mean(0, true);
    support = support.sub(mean);
    queries = queries.sub(mean);
  }
  let scores: Tensor;
  if (model instanceof EmbeddingNet && shot > 1) {
    const prototypes = support.view(ways, shot, -1).mean(1);
    scores = model.distanceMatrix(queries, prototypes);
  } else {
    scores = model.distanceMatrix(queries, support).view(queries.shape[0]!, ways, shot).mean(2);
  }
  return scores.argmin(1).toArray();
}
