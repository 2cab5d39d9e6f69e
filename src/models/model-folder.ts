// A saved model is one folder: config.json (architecture, preprocessing, how it was trained, its
// measured metrics, and the same/different threshold) and model.safetensors (the weights).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Preprocessing } from '../data/image.js';
import { TwinshotError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { loadModule, saveModule } from '../io/safetensors.js';
import type { RandomAffineOptions } from '../data/augment.js';
import { validateModelConfig, type ArchitectureConfig } from './config.js';
import { buildModel } from './factory.js';
import type { TwinModel } from './twin-model.js';
import { InferenceModel, isViewCount, MAX_VIEWS, type InferenceSettings } from './inference.js';

export const MODEL_FORMAT = 'twinshot-model';

/** The package's folder of trained models (`models/`, beside `src/` and `dist/`). */
export const PACKAGE_MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');

/**
 * The trained models that ship with twinshot, as absolute paths, so they load from any folder.
 * @example const { inference, card } = loadModelFolder(SHIPPED_MODELS.omniglotFast);
 */
export const SHIPPED_MODELS = {
  /** Conv-4 at 40x40, ink-framed, prototypical loss: 88.4% twenty-way within alphabets (10,000 trials; docs/results.md). */
  omniglotFast: path.join(PACKAGE_MODELS_DIR, 'omniglot-fast'),
  /** Five such networks, each image averaged over 4 test-time views: 90.3%, about 15 times the cost. */
  omniglotEnsemble: path.join(PACKAGE_MODELS_DIR, 'omniglot-ensemble'),
} as const;

/**
 * The folder a model argument names: `dir` itself when it holds config.json; otherwise, for a
 * relative path, the shipped model it names (`omniglot-fast` or `models/omniglot-fast`, as the
 * README writes it, from whatever folder the caller runs in). Anything else is returned as given,
 * for {@link readModelCard} to explain.
 */
export function resolveModelFolder(dir: string): string {
  if (path.isAbsolute(dir) || fs.existsSync(path.join(dir, 'config.json'))) return dir;
  const parts = path.normalize(dir).split(path.sep).filter((part) => part !== '');
  const name = parts.length === 1 || (parts.length === 2 && parts[0] === 'models') ? parts.at(-1)! : null;
  if (name === null || name === '.' || name === '..') return dir;
  const shipped = path.join(PACKAGE_MODELS_DIR, name);
  if (fs.existsSync(path.join(shipped, 'config.json'))) return shipped;
  return dir;
}

export interface ModelCard {
  format: typeof MODEL_FORMAT;
  version: 1;
  name: string;
  architecture: ArchitectureConfig;
  preprocessing: Preprocessing;
  /**
   * Verification: two images are the same class when their distance (model.distanceMatrix) is at
   * most `threshold`; confidence = sigmoid(scale * (threshold - distance)).
   */
  verification: {
    threshold: number;
    scale: number;
    /**
     * With a pair comparator: two images are the same class when its logit is at least
     * `threshold`; confidence = sigmoid(scale * (logit - threshold)). Fitted on held-out pairs.
     */
    comparator?: { threshold: number; scale: number };
  };
  /** How embeddings are post-processed at inference (the metrics below were measured with it). */
  inference: InferenceSettings;
  /**
   * How the model was trained, as the trainer recorded it: its config, data and cost. A model does
   * not interpret it (training's `trainingConfigOf` reads the config back, validated).
   */
  training?: { config: RecordedTrainingConfig; steps: number; seconds: number; machine: string; finishedAt: string } & Record<string, unknown>;
  /** Measured results, keyed by protocol. */
  metrics: Record<string, unknown>;
}

/** A training config as stored in a card; evaluation's support adaptation reuses its distortions. */
export type RecordedTrainingConfig = { augment?: RandomAffineOptions | null } & Record<string, unknown>;

export interface LoadedModel {
  model: TwinModel;
  inference: InferenceModel;
  card: ModelCard;
  dir: string;
}

/** Writes config.json and model.safetensors (each atomically). */
export function saveModelFolder(dir: string, model: TwinModel, card: ModelCard): void {
  fs.mkdirSync(dir, { recursive: true });
  saveModule(model, path.join(dir, 'model.safetensors'), { format: 'pt', twinshot: card.name });
  writeFileAtomic(path.join(dir, 'config.json'), `${JSON.stringify(card, null, 2)}\n`);
}

export function readModelCard(dir: string): ModelCard {
  dir = resolveModelFolder(dir);
  const file = path.join(dir, 'config.json');
  let card: ModelCard;
  try {
    card = JSON.parse(fs.readFileSync(file, 'utf8')) as ModelCard;
  } catch (error) {
    const reason = fs.existsSync(dir) ? (error as Error).message : 'the folder does not exist';
    throw new TwinshotError('ERR_MODEL', `cannot read model ${file}: ${reason}. A model folder holds config.json and model.safetensors (train one with \`twinshot train\`).`);
  }
  if (card.format !== MODEL_FORMAT || typeof card.preprocessing?.size !== 'number' || card.architecture === undefined) {
    throw new TwinshotError('ERR_MODEL', `${file} is not a twinshot model config (format '${String(card.format)}')`);
  }
  const frame: unknown = card.preprocessing.frame;
  if (frame !== undefined && frame !== 'image' && frame !== 'ink') {
    throw new TwinshotError(
      'ERR_MODEL',
      `${file}: preprocessing.frame is ${JSON.stringify(frame)}; this version of twinshot knows 'image' and 'ink' (upgrade twinshot to use this model)`,
    );
  }
  const views: unknown = card.inference?.views;
  if (views !== undefined && !isViewCount(views)) {
    throw new TwinshotError(
      'ERR_MODEL',
      `${file}: inference.views is ${JSON.stringify(views)}; it must be a whole number from 1 to ${MAX_VIEWS}`,
    );
  }
  try {
    card.architecture = validateModelConfig(card.architecture, `${file}: architecture`);
  } catch (error) {
    throw new TwinshotError('ERR_MODEL', (error as Error).message.replace(/\nFix these keys.*$/s, ''));
  }
  return card;
}

/**
 * Loads a model folder in eval mode: a folder written by `twinshot train`, or a shipped model
 * ({@link SHIPPED_MODELS}, or by name: see {@link resolveModelFolder}).
 * @throws TwinshotError ERR_MODEL when the folder holds no twinshot model
 */
export function loadModelFolder(dir: string): LoadedModel {
  dir = resolveModelFolder(dir);
  const card = readModelCard(dir);
  const model = buildModel(card.architecture, card.preprocessing.size);
  loadModule(model, path.join(dir, 'model.safetensors'));
  model.eval();
  return { model, inference: new InferenceModel(model, card.inference), card, dir };
}

/**
 * Stores a measured result in a model folder's config.json under metrics[key] (atomically).
 * A card travels to other machines, so a `data` path is kept as its file name only.
 */
export function recordMetrics(dir: string, key: string, value: Record<string, unknown>): void {
  dir = resolveModelFolder(dir);
  const card = readModelCard(dir);
  const portable = typeof value.data === 'string' ? { ...value, data: path.basename(value.data) } : value;
  card.metrics = { ...card.metrics, [key]: portable };
  writeFileAtomic(path.join(dir, 'config.json'), `${JSON.stringify(card, null, 2)}\n`);
}
