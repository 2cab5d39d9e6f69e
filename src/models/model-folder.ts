// A saved model is one folder: config.json (architecture, preprocessing, how it was trained, its
// measured metrics, and the same/different threshold) and model.safetensors (the weights).
import fs from 'node:fs';
import path from 'node:path';
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
  verification: { threshold: number; scale: number };
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

/** Loads a model folder in eval mode. */
export function loadModelFolder(dir: string): LoadedModel {
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
  const card = readModelCard(dir);
  const portable = typeof value.data === 'string' ? { ...value, data: path.basename(value.data) } : value;
  card.metrics = { ...card.metrics, [key]: portable };
  writeFileAtomic(path.join(dir, 'config.json'), `${JSON.stringify(card, null, 2)}\n`);
}
