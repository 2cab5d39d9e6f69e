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
  /**
   * Two-stage recognition with a model's pair comparator: the embedding's nearest `rerank`
   * classes (0: all of them) are re-ranked by the comparator's logit. Absent: the model's own
   * setting (`inference.settings.rerank`, 0 when unset); null: the embedding alone. Models without
   * a comparator always use the embedding alone.
   */
  rerank?: number | null;
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
  return encodeIndices(asInference(network), set, indices, { batchSize, features: false }).embedding;
}

/**
 * Embeddings [n, D] of images of `set` at `indices` and, when asked and the model has a pair
 * comparator, their comparator features [n, F]; in eval mode, without gradients.
 */
export function encodeIndices(
  inference: InferenceModel,
  set: ImageSet,
  indices: ArrayLike<number>,
  options: { batchSize?: number; features?: boolean } = {},
): { embedding: Tensor; features: Tensor | null } {
  const batchSize = options.batchSize ?? 256;
  const withFeatures = (options.features ?? true) && inference.hasComparator;
  const model = inference.model;
  const wasTraining = model.isTraining;
  model.eval();
  const join = (parts: Tensor[]): Tensor => {
    const out = parts.length === 1 ? parts[0]! : cat(parts);
    if (parts.length > 1) disposeAll(parts);
    return out;
  };
  try {
    return noGrad(() => {
      const embeddings: Tensor[] = [];
      const features: Tensor[] = [];
      for (let start = 0; start < indices.length; start += batchSize) {
        const chunk = Array.from(
          { length: Math.min(batchSize, indices.length - start) },
          (_, i) => indices[start + i]!,
        );
        if (!withFeatures) {
          embeddings.push(tidy(() => inference.embed(set.batch(chunk))));
          continue;
        }
        const codes = tidy(() => {
          const c = inference.encode(set.batch(chunk));
          return [c.embedding, c.features!];
        });
        embeddings.push(codes[0]!);
        features.push(codes[1]!);
      }
      return { embedding: join(embeddings), features: withFeatures ? join(features) : null };
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
  const rerank =
    !inference.hasComparator || options.rerank === null ? null : (options.rerank ?? inference.settings.rerank ?? 0);
  const encode = (indices: readonly number[]) =>
    encodeIndices(inference, set, indices, { batchSize: options.batchSize, features: rerank !== null });
  const unique = adapter ? [] : [...new Set(tasks.flatMap((t) => [...t.support, ...t.queries]))];
  const shared = adapter ? null : encode(unique);
  if (shared !== null) {
    keep(shared.embedding);
    if (shared.features !== null) keep(shared.features);
  }
  const sharedRows = new Map(unique.map((index, i) => [index, i]));
  const predict = (task: EvalTask): number[] => {
    const settings = {
      centering: options.taskCentering ?? false,
      rerank: rerank === null ? null : { model: inference, candidates: rerank },
    };
    if (shared !== null) return tidy(() => noGrad(() => classify(inference, shared, task, sharedRows, settings)));
    return tidy(() => {
      adapter!.adapt(set.batch(task.support), task.way ?? task.support.length);
      try {
        const indices = [...task.support, ...task.queries];
        const codes = encode(indices);
        const rows = new Map(indices.map((index, i) => [index, i]));
        return noGrad(() => classify(inference, codes, task, rows, settings));
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
    shared?.embedding.dispose();
    shared?.features?.dispose();
    adapter?.dispose();
  }
  const perGroup = Object.fromEntries(
    [...groupCounts].map(([name, c]) => [name, estimateAccuracy(c.correct, c.trials)]),
  );
  return { ...estimateAccuracy(correct, trials), perGroup };
}

/**
 * The class chosen for each query of each task, from embeddings computed beforehand: `rows` maps
 * an image index of the set to its row of `embeddings`. This is evaluateOneShot's scorer (its
 * first stage), for embeddings made elsewhere (an exported ONNX model, say) and compared under
 * `inference`'s metric.
 */
export function classifyTasks(
  inference: Pick<InferenceModel, 'metric' | 'distanceMatrix'>,
  embeddings: Tensor,
  rows: ReadonlyMap<number, number>,
  tasks: readonly EvalTask[],
  options: { taskCentering?: boolean } = {},
): number[][] {
  const settings = { centering: options.taskCentering ?? false, rerank: null };
  return tasks.map((task) =>
    tidy(() => noGrad(() => classify(inference, { embedding: embeddings, features: null }, task, rows, settings))),
  );
}

function classify(
  inference: Pick<InferenceModel, 'metric' | 'distanceMatrix'>,
  codes: { embedding: Tensor; features: Tensor | null },
  task: EvalTask,
  row: ReadonlyMap<number, number>,
  settings: { centering: boolean; rerank: { model: InferenceModel; candidates: number } | null },
): number[] {
  const embeddings = codes.embedding;
  const ways = task.way ?? task.support.length;
  const shot = task.support.length / ways;
  const device = embeddings.device as Device;
  const supportRows = tensor(
    Array.from(task.support, (i) => row.get(i)!),
    { device },
  );
  const queryRows = tensor(
    Array.from(task.queries, (i) => row.get(i)!),
    { device },
  );
  let support = embeddings.indexSelect(0, supportRows);
  let queries = embeddings.indexSelect(0, queryRows);
  if (settings.centering) {
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
  if (settings.rerank === null || codes.features === null) return scores.argmin(1).toArray();
  return rerankCandidates(settings.rerank.model, codes.features, scores, {
    queries,
    support,
    queryRows,
    supportRows,
    shot,
    candidates: settings.rerank.candidates,
  });
}

/**
 * The second stage: each query's `candidates` nearest classes by `scores` (all when 0) are scored
 * by the comparator against every support image of theirs (logits averaged over shots); the
 * highest wins. Returns class positions.
 */
function rerankCandidates(
  inference: InferenceModel,
  features: Tensor,
  scores: Tensor,
  task: { queries: Tensor; support: Tensor; queryRows: Tensor; supportRows: Tensor; shot: number; candidates: number },
): number[] {
  const [queryCount, ways] = scores.shape as [number, number];
  const k = task.candidates === 0 ? ways : Math.min(task.candidates, ways);
  const nearest = scores.topk(k, { dim: 1, largest: false }).indices.toArray() as number[]; // [Q * k], nearest first
  const queryIndex: number[] = [];
  const supportIndex: number[] = [];
  for (let q = 0; q < queryCount; q++) {
    for (let j = 0; j < k; j++) {
      const c = nearest[q * k + j]!;
      for (let s = 0; s < task.shot; s++) {
        queryIndex.push(q);
        supportIndex.push(c * task.shot + s);
      }
    }
  }
  const device = features.device as Device;
  const qi = tensor(queryIndex, { device });
  const si = tensor(supportIndex, { device });
  const distances = inference.pairDistances(task.queries.indexSelect(0, qi), task.support.indexSelect(0, si));
  const logits = inference
    .compare(
      features.indexSelect(0, task.queryRows.indexSelect(0, qi)),
      features.indexSelect(0, task.supportRows.indexSelect(0, si)),
      distances,
    )
    .view(queryCount, k, task.shot)
    .mean(2);
  const best = logits.argmax(1).toArray() as number[];
  return best.map((j, q) => nearest[q * k + j]!);
}
