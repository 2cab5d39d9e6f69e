// Builds an ensemble model folder from trained embedding-network folders, and measures it on the
// members' held-out validation alphabets (never on evaluation data).
import { TwinshotError } from '../errors.js';
import { samePreprocessing } from '../data/image.js';
import { evaluateOneShot, type OneShotResult } from '../evaluation/one-shot.js';
import { EmbeddingNet } from '../models/embedding-net.js';
import { EnsembleNet } from '../models/ensemble.js';
import type { ArchitectureConfig, EmbeddingArchitecture } from '../models/config.js';
import { InferenceModel, type InferenceSettings } from '../models/inference.js';
import { loadModelFolder, MODEL_FORMAT, saveModelFolder, type ModelCard } from '../models/model-folder.js';
import { trainingConfigOf } from './config.js';
import {
  calibrateOnPairs,
  loadTrainingData,
  machineName,
  validationMetric,
  validationTrials,
  verificationRecord,
} from './trainer.js';

export interface EnsembleResult {
  card: ModelCard;
  /** One-shot accuracy on the members' held-out validation groups; null when they held none out. */
  validation: OneShotResult | null;
}

export async function buildEnsemble(
  memberDirs: readonly string[],
  outDir: string,
  options: { name?: string; dataPath?: string; views?: number } = {},
): Promise<EnsembleResult> {
  if (memberDirs.length < 2) throw new TwinshotError('ERR_ARGUMENT', 'an ensemble needs at least two model folders');
  const members = memberDirs.map((dir) => loadModelFolder(dir));
  const first = members[0]!;
  const config = trainingConfigOf(first.card, memberDirs[0]);
  if (!config)
    throw new TwinshotError('ERR_MODEL', `${memberDirs[0]} has no training config: its validation data is unknown`);
  for (const [i, m] of members.entries()) {
    if (!(m.model instanceof EmbeddingNet)) {
      throw new TwinshotError(
        'ERR_MODEL',
        `${memberDirs[i]} is a ${m.card.architecture.kind} model; ensembles combine embedding networks`,
      );
    }
    if (!samePreprocessing(m.card.preprocessing, first.card.preprocessing)) {
      throw new TwinshotError(
        'ERR_MODEL',
        `${memberDirs[i]} preprocesses images differently from ${memberDirs[0]}; ensemble members must share input size, inversion and framing`,
      );
    }
    // The ensemble is measured on the first member's held-out groups; another member must not have trained on them.
    const data = trainingConfigOf(m.card, memberDirs[i])?.data;
    if (
      !data ||
      data.source !== config.data.source ||
      data.validationGroups !== config.data.validationGroups ||
      data.validationSeed !== config.data.validationSeed
    ) {
      throw new TwinshotError(
        'ERR_MODEL',
        `${memberDirs[i]} was not trained on the same split as ${memberDirs[0]} (data.source, validationGroups, validationSeed); ensemble members must hold out the same validation groups`,
      );
    }
  }
  const ensemble = new EnsembleNet(members.map((m) => m.model as EmbeddingNet));
  ensemble.eval();
  // Members trained on every group (the recipe chosen on held-out groups, then refitted on all of
  // them) leave nothing unseen: the threshold is then fitted on training classes, as train() does.
  const { train, validation } = await loadTrainingData(config, options.dataPath);
  // Test-time views are part of the model: validation, calibration and every later use average them.
  const settings: InferenceSettings =
    (options.views ?? 1) > 1 ? { centering: 'none', views: options.views } : { centering: 'none' };
  const inference = new InferenceModel(ensemble, settings);
  const trials = validation
    ? validationTrials(validation, config.training.validationTrials, config.data.validationSeed + 100)
    : [];
  const result = validation ? evaluateOneShot(inference, validation, trials) : null;
  const verification = calibrateOnPairs(inference, validation ?? train, 2000, config.seed + 3);
  const architecture: ArchitectureConfig = {
    kind: 'ensemble',
    members: members.map((m) => m.card.architecture as EmbeddingArchitecture),
  };
  const card: ModelCard = {
    format: MODEL_FORMAT,
    version: 1,
    name: options.name ?? 'ensemble',
    architecture,
    preprocessing: first.card.preprocessing,
    verification: verification.calibration,
    inference: settings,
    training: {
      config,
      steps: members.reduce((s, m) => s + (m.card.training?.steps ?? 0), 0),
      seconds: members.reduce((s, m) => s + (m.card.training?.seconds ?? 0), 0),
      machine: machineName(),
      finishedAt: new Date().toISOString(),
      members: members.map((m, i) => ({
        folder: memberDirs[i],
        name: m.card.name,
        steps: m.card.training?.steps,
        seconds: m.card.training?.seconds,
        config: m.card.training?.config,
        validation: m.card.metrics.validation,
      })),
    },
    metrics: {
      ...(result ? { validation: validationMetric(result, trials) } : {}),
      ...verificationRecord(verification.metrics, result !== null),
    },
  };
  saveModelFolder(outDir, ensemble, card);
  return { card, validation: result };
}
