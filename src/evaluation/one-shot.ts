// N-way K-shot evaluation: embed every image a set of tasks needs once, then classify each query
// by its nearest class (embedding distance, or the model's pair score for Koch-style heads).
import { noGrad } from '../engine/autograd.js';
import { tidy, keep, disposeAll } from '../engine/scope.js';
import { cat, tensor, type Device, type Tensor } from '../engine/tensor.js';
import type { ImageSet } from '../data/dataset.js';
import type { OneShotTask } from '../data/one-shot.js';
import { asInference, type Embeds, type InferenceModel } from '../models/inference.js';
import type { SearchMetric } from '../models/embedder.js';
import * as F from '../nn/functional.js';
import { estimateAccuracy, type AccuracyEstimate } from './statistics.js';
import { SupportAdapter, type AdaptationOptions } from './support-adaptation.js';

/** A task; `way` is needed when the support holds several shots per class. */
export type EvalTask = OneShotTask & { way?: number };

export interface OneShotOptions {
  batchSize?: number;
  /**
   * How the vectors of a module or function given in place of a model compare (see
   * `models.EmbeddingModel`): 'l2' (default), 'cosine' or 'l1'. A model brings its own.
   */
  metric?: SearchMetric;
  /**
   * Centre each task on the mean of its support embeddings and scale to unit length before
   * measuring distances (CL2N with the task's own mean). It uses the support set only, which every
   * task provides; a gallery can apply it with its own mean. Off by default.
   */
  taskCentering?: boolean;
  /**
   * Fine-tune the network on each task's support set before classifying its queries (see
   * support-adaptation.ts). Every task is then embedded on its own, at the cost of the steps.
   */
  adaptation?: AdaptationOptions;
}

export interface OneShotResult extends AccuracyEstimate {
  /** Accuracy per group (alphabet or run). */
  perGroup: Record<string, AccuracyEstimate>;
}

/**
 * Embeds images of `set` at `indices` in eval mode without gradients; returns [n, D]. `network` is
 * a model's inference view, a twin model, any module or a function that embeds (l2 metric).
 */
export function embedIndices(network: Embeds, set: ImageSet, indices: ArrayLike<number>, batchSize = 256): Tensor {
  const inference = asInference(network);
  const model = inference.model;
  const wasTraining = model.isTraining;
  model.eval();
  try {
    return noGrad(() => {
      const parts: Tensor[] = [];
      for (let start = 0; start < indices.length; start += batchSize) {
        const chunk = Array.from(
          { length: Math.min(batchSize, indices.length - start) },
          (_, i) => indices[start + i]!,
        );
        parts.push(tidy(() => inference.embed(set.batch(chunk))));
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
export function evaluateOneShot(
  network: Embeds,
  set: ImageSet,
  tasks: readonly EvalTask[],
  options: OneShotOptions = {},
): OneShotResult {
  const inference = asInference(network, options.metric === undefined ? {} : { metric: options.metric });
  // Without adaptation every image is embedded once for all tasks; with it, each task's own.
  const adapter = options.adaptation ? new SupportAdapter(inference.model, options.adaptation) : null;
  const unique = adapter ? [] : [...new Set(tasks.flatMap((t) => [...t.support, ...t.queries]))];
  const shared = adapter ? null : keep(embedIndices(inference, set, unique, options.batchSize));
  const sharedRows = new Map(unique.map((index, i) => [index, i]));
  const predict = (task: EvalTask): number[] => {
    const centering = options.taskCentering ?? false;
    if (shared !== null) return tidy(() => noGrad(() => classify(inference, shared, task, sharedRows, centering)));
    return tidy(() => {
      adapter!.adapt(set.batch(task.support), task.way ?? task.support.length);
      try {
        const indices = [...task.support, ...task.queries];
        const embeddings = embedIndices(inference, set, indices, options.batchSize);
        const rows = new Map(indices.map((index, i) => [index, i]));
        return noGrad(() => classify(inference, embeddings, task, rows, centering));
      } finally {
        adapter!.restore();
      }
    });
  };
  const groupCounts = new Map<string, { correct: number; trials: number }>();
  let correct = 0;
  let trials = 0;
  try {
    for (const task of tasks) {
      const predictions = predict(task);
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
    shared?.dispose();
    adapter?.dispose();
  }
  const perGroup = Object.fromEntries(
    [...groupCounts].map(([name, c]) => [name, estimateAccuracy(c.correct, c.trials)]),
  );
  return { ...estimateAccuracy(correct, trials), perGroup };
}

/**
 * The class chosen for each query of each task, from embeddings computed beforehand: `rows` maps
 * an image index of the set to its row of `embeddings`. This is evaluateOneShot's scorer, for
 * embeddings made elsewhere (an exported ONNX model, say) and compared under `inference`'s metric.
 */
export function classifyTasks(
  inference: Pick<InferenceModel, 'metric' | 'distanceMatrix'>,
  embeddings: Tensor,
  rows: ReadonlyMap<number, number>,
  tasks: readonly EvalTask[],
  options: { taskCentering?: boolean } = {},
): number[][] {
  return tasks.map((task) =>
    tidy(() => noGrad(() => classify(inference, embeddings, task, rows, options.taskCentering ?? false))),
  );
}

function classify(
  inference: Pick<InferenceModel, 'metric' | 'distanceMatrix'>,
  embeddings: Tensor,
  task: EvalTask,
  row: ReadonlyMap<number, number>,
  taskCentering: boolean,
): number[] {
  const ways = task.way ?? task.support.length;
  const shot = task.support.length / ways;
  const device = embeddings.device as Device;
  let support = embeddings.indexSelect(
    0,
    tensor(
      Array.from(task.support, (i) => row.get(i)!),
      { device },
    ),
  );
  let queries = embeddings.indexSelect(
    0,
    tensor(
      Array.from(task.queries, (i) => row.get(i)!),
      { device },
    ),
  );
  if (taskCentering) {
    const mean = support.mean(0, true);
    support = F.normalize(support.sub(mean));
    queries = F.normalize(queries.sub(mean));
  }
  // Several shots: compare with the class mean (a prototype), except for Koch-style L1 heads,
  // whose scores are per pair and are averaged instead.
  const scores =
    shot > 1 && inference.metric !== 'l1'
      ? inference.distanceMatrix(queries, support.view(ways, shot, -1).mean(1))
      : inference.distanceMatrix(queries, support).view(queries.shape[0]!, ways, shot).mean(2);
  return scores.argmin(1).toArray();
}
