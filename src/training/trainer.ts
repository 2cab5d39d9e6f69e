// The trainer: data, model, objective and optimiser from one config; validation by one-shot
// accuracy on held-out groups, best-model export, early stopping, atomic checkpoints, exact resume,
// clean stop on a signal or time limit, a JSONL metrics log and an SVG plot of the curves.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuHasBfloat16, cuda, getRngState, manualSeed, setRngState } from '../engine/runtime.js';
import { tidy } from '../engine/scope.js';
import { RandomAffine, expandRotations } from '../data/augment.js';
import type { ImageSet } from '../data/dataset.js';
import { loadImageFolder } from '../data/image-folder.js';
import { loadManifest } from '../data/manifest.js';
import { loadOmniglot } from '../data/omniglot.js';
import { Rng } from '../data/random.js';
import { splitByClass, splitByGroup } from '../data/splits.js';
import { TwinshotError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { loadModule } from '../io/safetensors.js';
import { embedIndices, evaluateOneShot, type EvalTask, type OneShotResult } from '../evaluation/one-shot.js';
import { sampleTrials } from '../evaluation/protocols.js';
import { formatAccuracy } from '../evaluation/statistics.js';
import { fitCalibration, verificationMetrics } from '../evaluation/verification.js';
import { comparatorVerification, verificationPairs } from '../evaluation/verification-pairs.js';
import { buildModel } from '../models/factory.js';
import { MODEL_FORMAT, saveModelFolder, type ModelCard } from '../models/model-folder.js';
import type { TwinModel } from '../models/twin-model.js';
import { InferenceModel } from '../models/inference.js';
import { loadCheckpoint, saveCheckpoint, type TrainingProgress } from './checkpoint.js';
import type { TrainConfig } from './config.js';
import { MetricsLog, plotMetrics } from './metrics-log.js';
import { buildObjective } from './objective.js';
import { buildOptimization } from './optimization.js';
import { WeightAverage } from './weight-average.js';
import { refitBatchNorm } from './batch-norm.js';
import { DataParallelTraining, checkWorldSize, rankSeed } from './data-parallel.js';
import { getLocalRank, type ProcessGroup } from '../distributed/process-group.js';
import type { Device } from '../engine/tensor.js';

export interface TrainOptions {
  config: TrainConfig;
  /** Where the data is (overrides config.data.path). */
  dataPath?: string;
  /** The run folder: the best model (config.json, model.safetensors), checkpoint, metrics, plot. */
  outDir: string;
  /** Continue from outDir's checkpoint. */
  resume?: boolean;
  /** Receives progress lines (default: console.log). */
  log?: (line: string) => void;
  /** Receives every step, for progress bars. */
  onStep?: (info: StepInfo) => void;
  /** Aborting saves a checkpoint after the current step and returns. */
  signal?: AbortSignal;
  /** Already loaded data (skips config.data's loading and splitting; rotations still apply). */
  data?: { train: ImageSet; validation: ImageSet | null };
  /**
   * Trains data-parallel with the other ranks of this group (see docs/training.md): each rank
   * draws its own batches, gradients are averaged, and rank 0 validates, logs and writes the run
   * folder. Every rank calls train() with the same options.
   */
  group?: ProcessGroup;
  /** The clock, in milliseconds (default Date.now): tests drive the time limit with their own. */
  now?: () => number;
}

export interface StepInfo {
  step: number;
  totalSteps: number;
  loss: number;
  imagesPerSecond: number;
  lr: number;
  etaSeconds: number;
}

export interface TrainResult {
  steps: number;
  seconds: number;
  bestAccuracy: number;
  bestStep: number;
  stoppedBy: 'completed' | 'early-stopping' | 'time-limit' | 'signal';
  outDir: string;
}

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const METRICS_FILE = 'metrics.jsonl';

/** Loads the configured data and returns the training and validation sets. */
export async function loadTrainingData(
  config: TrainConfig,
  dataPath?: string,
): Promise<{ train: ImageSet; validation: ImageSet | null; full: ImageSet }> {
  const d = config.data;
  const source = dataPath ?? d.path;
  const common = { size: d.size, invert: d.invert, frame: d.frame };
  let full: ImageSet;
  if (d.source === 'omniglot') {
    full = await loadOmniglot({ ...common, source, split: 'background' });
  } else if (d.source === 'folder') {
    if (!source) throw new TwinshotError('ERR_CONFIG', "data.source 'folder' needs data.path or --data PATH");
    full = await loadImageFolder(source, common);
  } else {
    if (!source) throw new TwinshotError('ERR_CONFIG', "data.source 'manifest' needs data.path or --data PATH");
    full = await loadManifest(source, common);
  }
  let train = full;
  let validation: ImageSet | null = null;
  if (d.validationGroups > 0) {
    if (full.numGroups > d.validationGroups) {
      const parts = splitByGroup(
        full,
        { train: full.numGroups - d.validationGroups, validation: d.validationGroups },
        { seed: d.validationSeed },
      );
      train = parts.train!;
      validation = parts.validation!;
    } else {
      const parts = splitByClass(full, { train: 0.8, validation: 0.2 }, { seed: d.validationSeed });
      train = parts.train!;
      validation = parts.validation!;
    }
  }
  if (d.rotations) train = expandRotations(train);
  return { train, validation, full };
}

/** The validation trials: 20-way (or as many classes as a group has) one-shot, within groups when possible. */
export function validationTrials(set: ImageSet, trials: number, seed: number): EvalTask[] {
  const largestGroup = Math.max(...Array.from({ length: set.numGroups }, (_, g) => set.classesOfGroup(g).length));
  const withinGroup = largestGroup >= 5;
  const way = Math.min(20, withinGroup ? largestGroup : set.numClasses);
  return sampleTrials(set, { way, shot: 1, trials, seed, withinGroup });
}

/** A model card's `metrics.validation`: the one-shot result on held-out groups, without the per-group split. */
export function validationMetric(result: OneShotResult, trials: readonly EvalTask[]): Record<string, unknown> {
  return {
    protocol: `${trials[0]?.way ?? 20}-way 1-shot within held-out background groups`,
    ...result,
    perGroup: undefined,
  };
}

/**
 * Fits the verification threshold on pairs of `set` (held-out groups where there are some), and
 * measures verification on the same pairs.
 */
export function calibrateOnPairs(
  inference: InferenceModel,
  set: ImageSet,
  pairCount: number,
  seed: number,
): {
  calibration: { threshold: number; scale: number; comparator?: { threshold: number; scale: number } };
  metrics: ReturnType<typeof verificationMetrics>;
  comparatorMetrics?: ReturnType<typeof verificationMetrics>;
} {
  const pairs = verificationPairs(inference, set, pairCount, seed);
  const calibration = fitCalibration(pairs.distances, pairs.same);
  const metrics = verificationMetrics(pairs.distances, pairs.same);
  if (pairs.logits === null) return { calibration, metrics };
  // The comparator answers with a logit (higher: more alike); fitted as a distance, it is its negation.
  const negated = pairs.logits.map((l) => -l);
  const fitted = fitCalibration(negated, pairs.same);
  return {
    calibration: { ...calibration, comparator: { threshold: -fitted.threshold, scale: fitted.scale } },
    metrics,
    comparatorMetrics: comparatorVerification(verificationMetrics(negated, pairs.same)),
  };
}

/**
 * A card's verification metrics, named by the pairs they were measured on: held-out groups, or
 * (when nothing was held out) training classes, which flatter them.
 */
export function verificationRecord(
  metrics: ReturnType<typeof verificationMetrics>,
  heldOut: boolean,
): Record<string, ReturnType<typeof verificationMetrics>> {
  return { [heldOut ? 'validationVerification' : 'trainingVerification']: metrics };
}

/** The machine a model was trained on, as model cards record it. */
export function machineName(): string {
  return `${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}`;
}

/**
 * The inference view the config asks for; with centering, the mean raw embedding of up to 2,048
 * training images (un-augmented) is measured now.
 */
export function inferenceFor(model: TwinModel, config: TrainConfig, trainSet: ImageSet): InferenceModel {
  // With a comparator, the card records how many candidates it re-ranks.
  const rerank =
    config.model.kind === 'embedding' && config.model.comparator ? { rerank: config.evaluation.rerank } : {};
  if (!config.evaluation.centering || config.model.kind !== 'embedding')
    return new InferenceModel(model, { centering: 'none', ...rerank });
  const rng = new Rng(config.seed + 4);
  const sample = rng.sample(Math.min(2048, trainSet.size), trainSet.size);
  const raw = embedIndices(new InferenceModel(model), trainSet, sample);
  const mean = tidy(() => raw.mean(0).toArray());
  raw.dispose();
  return new InferenceModel(model, { centering: 'train-mean', mean, ...rerank });
}

/** 'auto' means CUDA when this libtorch has it and a GPU is visible. */
export function resolveDevice(requested: TrainConfig['device']): 'cpu' | 'cuda' {
  if (requested === 'cuda' && !cuda.isAvailable()) {
    throw new TwinshotError(
      'ERR_CONFIG',
      "device 'cuda' was asked for, but this libtorch has no CUDA or sees no GPU; build against a CUDA libtorch (LIBTORCH=...) or use 'auto'",
    );
  }
  return requested === 'cpu' ? 'cpu' : cuda.isAvailable() ? 'cuda' : 'cpu';
}

function hashConfig(config: TrainConfig): string {
  // Settings that may change between resumes (budget, logging, device, evaluation) are left out of the identity.
  const { training, device: _device, evaluation: _evaluation, ...rest } = config;
  const identity = {
    ...rest,
    training: {
      epochSteps: training.epochSteps,
      validationTrials: training.validationTrials,
      // Only when set, so that runs from before the option keep their identity.
      ...(training.ema > 0 ? { ema: training.ema } : {}),
      ...(training.init !== undefined ? { init: training.init } : {}),
    },
  };
  return crypto.createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const { config, outDir } = options;
  // In a data-parallel run, rank 0 alone reads and writes the run folder and logs.
  const isMain = (options.group?.rank ?? 0) === 0;
  const log = isMain ? (options.log ?? ((line: string) => console.log(line))) : () => {};
  const checkpointPath = path.join(outDir, CHECKPOINT_FILE);
  if (isMain && !options.resume && fs.existsSync(checkpointPath)) {
    throw new TwinshotError(
      'ERR_CONFIG',
      `${outDir} already holds a training run; pass --resume to continue it, or choose another --out`,
    );
  }
  if (isMain && options.resume && !fs.existsSync(checkpointPath)) {
    throw new TwinshotError('ERR_CONFIG', `--resume: ${checkpointPath} does not exist (nothing to resume)`);
  }
  if (isMain) fs.mkdirSync(outDir, { recursive: true });
  manualSeed(config.seed);

  const now = options.now ?? Date.now;
  const started = now();
  const resolved = resolveDevice(config.device);
  // Data-parallel ranks on one machine each take their own GPU: cuda:LOCAL_RANK.
  const device: Device = resolved === 'cuda' && options.group ? `cuda:${getLocalRank()}` : resolved;
  const loadedData = options.data
    ? {
        train: config.data.rotations ? expandRotations(options.data.train) : options.data.train,
        validation: options.data.validation,
      }
    : await loadTrainingData(config, options.dataPath);
  // Images live where the model runs, so batches never cross the bus.
  const trainSet = device === 'cpu' ? loadedData.train : loadedData.train.to(device);
  const validation =
    device === 'cpu' || loadedData.validation === null ? loadedData.validation : loadedData.validation.to(device);
  log(
    `data: ${trainSet.numClasses} training classes (${trainSet.size} images), ${validation ? `${validation.numClasses} validation classes in ${validation.numGroups} groups` : 'no validation set'}, ${config.data.size}x${config.data.size}`,
  );
  const trials =
    validation && isMain
      ? validationTrials(validation, config.training.validationTrials, config.data.validationSeed + 100)
      : [];

  const model = buildModel(config.model, config.data.size);
  if (config.training.init !== undefined) {
    const file = path.join(config.training.init, 'model.safetensors');
    if (!fs.existsSync(file))
      throw new TwinshotError(
        'ERR_CONFIG',
        `training.init: ${file} does not exist; name a model folder (e.g. models/omniglot-fast)`,
      );
    loadModule(model, file, { strict: false });
    log(`initialised from ${config.training.init}`);
  }
  if (device !== 'cpu') model.to(device);
  model.train();
  log(`model: ${config.model.kind}, ${model.numParameters().toLocaleString('en')} parameters, on ${device}`);
  if (config.training.precision === 'bfloat16' && device === 'cpu' && !cpuHasBfloat16()) {
    log(
      'note: this CPU has no bfloat16 instructions, so mixed precision is likely slower than float32 here (--set training.precision=float32)',
    );
  }
  const optimization = buildOptimization(config, model);
  const parallel = options.group ? new DataParallelTraining(options.group, model) : null;
  parallel?.seedRank(config.seed);
  if (parallel)
    log(`data-parallel on ${parallel.worldSize} ranks (${options.group!.backend}): each draws its own batches`);
  // A second model of the same architecture whose random initialisation leaves torch's generator
  // where it was, so that averages and refitted copies cannot shift whatever draws from it later.
  const spareModel = (): TwinModel => {
    const state = getRngState();
    try {
      return buildModel(config.model, config.data.size).to(device);
    } finally {
      setRngState(state);
      state.dispose();
    }
  };
  // With training.ema, the averaged weights are what is validated and exported.
  const average =
    config.training.ema > 0 && isMain ? new WeightAverage(spareModel(), model, config.training.ema) : null;
  // What validation and export judge: the average or the live weights, as they are or (with
  // training.refitBatchNorm) a copy whose batch-norm statistics are re-estimated on clean images.
  const judged = (): TwinModel => {
    const weights = average?.average ?? model;
    if (config.training.refitBatchNorm === 0) return weights;
    const copy = spareModel();
    copy.loadStateDict(weights.stateDict());
    refitBatchNorm(copy, trainSet, { batches: config.training.refitBatchNorm, seed: config.seed + 5 });
    return copy;
  };
  const augment = config.augment === null ? null : new RandomAffine(config.augment);
  // Each rank draws its own batches and distortions; rank 0 draws what a single process would.
  const seed = rankSeed(config.seed, options.group?.rank ?? 0);
  const augmentRng = new Rng(seed + 2);
  const objective = buildObjective({ ...config, seed }, trainSet, augment, augmentRng);
  const metrics = isMain ? new MetricsLog(path.join(outDir, METRICS_FILE)) : null;
  const configHash = hashConfig(config);

  let progress: TrainingProgress = {
    step: 0,
    seconds: 0,
    bestAccuracy: -1,
    bestStep: 0,
    validationsWithoutImprovement: 0,
    sampler: objective.getState(),
    augmentRng: augmentRng.getState(),
    configHash,
  };
  const bestSoFar = () =>
    `best validation ${(100 * Math.max(0, progress.bestAccuracy)).toFixed(1)}% at step ${progress.bestStep}`;
  if (options.resume) {
    // Every rank resumes from rank 0's checkpoint, sent to it over the group (no shared disk needed).
    const source = parallel ? await parallel.checkpointBytes(() => fs.readFileSync(checkpointPath)) : checkpointPath;
    progress = loadCheckpoint(source, model, optimization.optimizer, average?.average);
    checkWorldSize(progress, parallel?.worldSize ?? 1, checkpointPath);
    const own = parallel?.restoreRank(progress);
    if (own) Object.assign(progress, { sampler: own.sampler, augmentRng: own.augmentRng });
    if (average) average.updates = progress.averageUpdates ?? 0;
    if (progress.configHash !== configHash) {
      throw new TwinshotError(
        'ERR_CONFIG',
        `--resume: the checkpoint in ${outDir} was made with a different config; resume with the same config (only training.steps, limits and logging may change)`,
      );
    }
    objective.setState(progress.sampler);
    augmentRng.setState(progress.augmentRng);
    optimization.seek(progress.step);
    metrics?.truncateAfter(progress.step);
    log(`resumed at step ${progress.step}${validation ? ` (${bestSoFar()})` : ''}`);
  }
  await parallel?.broadcastState();
  if (isMain) writeFileAtomic(path.join(outDir, 'train-config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const total = config.training.steps;
  const sessionStart = now();
  const secondsBefore = progress.seconds;
  const elapsed = () => secondsBefore + (now() - sessionStart) / 1000;
  const timeLimit = config.training.timeLimitMinutes === undefined ? Infinity : config.training.timeLimitMinutes * 60;
  let stoppedBy: TrainResult['stoppedBy'] = 'completed';
  let windowLoss = 0;
  // Terms of a loss made of several (the comparator's), averaged over the same window.
  const windowParts = new Map<string, number>();
  let windowSteps = 0;
  let windowImages = 0;
  let windowStart = now();

  const checkpoint = async () => {
    const ranks = await parallel?.gatherRankStates({
      sampler: objective.getState(),
      augmentRng: augmentRng.getState(),
    });
    if (!isMain) return;
    progress.seconds = elapsed();
    progress.sampler = objective.getState();
    progress.augmentRng = augmentRng.getState();
    if (average) progress.averageUpdates = average.updates;
    if (ranks) Object.assign(progress, { worldSize: ranks.length, ranks });
    saveCheckpoint(checkpointPath, model, optimization.optimizer, progress, average?.average);
  };

  const validate = (step: number): boolean => {
    if (!validation) return false;
    const inference = inferenceFor(judged(), config, trainSet);
    const result = evaluateOneShot(inference, validation, trials);
    // With a comparator, the first stage alone too: what re-ranking adds.
    const firstStage = inference.hasComparator
      ? evaluateOneShot(inference, validation, trials, { rerank: null })
      : null;
    model.train();
    const improved = result.accuracy > progress.bestAccuracy;
    metrics?.append({
      kind: 'validation',
      step,
      seconds: elapsed(),
      accuracy: result.accuracy,
      trials: result.trials,
      ci95Low: result.ci95[0],
      ci95High: result.ci95[1],
      ...(firstStage ? { embeddingAccuracy: firstStage.accuracy } : {}),
    });
    log(
      `validation at step ${step}: ${formatAccuracy(result)}${firstStage ? ` (embedding alone ${(100 * firstStage.accuracy).toFixed(1)}%)` : ''}${improved ? ' (best so far)' : ''}`,
    );
    if (improved) {
      progress.bestAccuracy = result.accuracy;
      progress.bestStep = step;
      progress.validationsWithoutImprovement = 0;
      exportModel(step, inference, { validation: validationMetric(result, trials) });
    } else {
      progress.validationsWithoutImprovement++;
    }
    return config.training.patience > 0 && progress.validationsWithoutImprovement >= config.training.patience;
  };

  const exportModel = (step: number, inference: InferenceModel, measured: Record<string, unknown>) => {
    const calibrationSet = validation ?? trainSet;
    // Calibration pairs grow with the validation budget (a short run should not spend most of its time here).
    const pairCount = Math.min(2000, Math.max(200, 2 * config.training.validationTrials));
    const {
      calibration,
      metrics: verification,
      comparatorMetrics,
    } = calibrateOnPairs(inference, calibrationSet, pairCount, config.seed + 3);
    model.train();
    const card: ModelCard = {
      format: MODEL_FORMAT,
      version: 1,
      name: config.name,
      architecture: config.model,
      preprocessing: loadedData.train.preprocessing,
      verification: calibration,
      inference: inference.settings,
      training: {
        config,
        steps: step,
        seconds: Math.round(elapsed()),
        machine: machineName(),
        finishedAt: new Date().toISOString(),
      },
      metrics: {
        ...measured,
        ...verificationRecord(verification, validation !== null),
        ...(comparatorMetrics
          ? {
              [validation !== null ? 'validationComparatorVerification' : 'trainingComparatorVerification']:
                comparatorMetrics,
            }
          : {}),
      },
    };
    saveModelFolder(outDir, inference.model, card);
  };

  for (let step = progress.step + 1; step <= total; step++) {
    // Let the event loop run signal handlers (Ctrl-C) and timers between synchronous steps.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const {
      value: ownLoss,
      images: ownImages,
      parts,
    } = tidy(() => {
      optimization.optimizer.zeroGrad();
      const { loss, images, parts } = objective.step(model);
      loss.backward();
      return { value: loss.item(), images, parts };
    });
    // Data-parallel: the gradients become the ranks' mean, and the ranks agree on how the step ends.
    const agreed = parallel
      ? await parallel.afterBackward(ownLoss, options.signal?.aborted ?? false, elapsed() >= timeLimit)
      : null;
    const value = agreed?.loss ?? ownLoss;
    const images = ownImages * (parallel?.worldSize ?? 1);
    tidy(() => optimization.optimizer.step());
    if (!Number.isFinite(value)) {
      throw new TwinshotError(
        'ERR_CONFIG',
        `training diverged at step ${step} (loss ${value}); lower optimizer.lr or check the data`,
      );
    }
    average?.update();
    optimization.afterStep(step);
    progress.step = step;
    windowLoss += value;
    for (const [name, v] of Object.entries(parts ?? {})) windowParts.set(name, (windowParts.get(name) ?? 0) + v);
    windowSteps++;
    windowImages += images;
    const lr = optimization.optimizer.paramGroups[0]!.lr;
    const rate = windowImages / Math.max(1e-3, (now() - windowStart) / 1000);
    options.onStep?.({
      step,
      totalSteps: total,
      loss: value,
      imagesPerSecond: rate,
      lr,
      etaSeconds: ((total - step) * windowImages) / windowSteps / Math.max(rate, 1e-9),
    });
    if (step % config.training.logEvery === 0 || step === total) {
      const communication = parallel?.takeCommunicationSeconds();
      const averagedParts = Object.fromEntries([...windowParts].map(([name, sum]) => [name, sum / windowSteps]));
      metrics?.append({
        kind: 'train',
        step,
        seconds: elapsed(),
        loss: windowLoss / windowSteps,
        ...averagedParts,
        lr,
        imagesPerSecond: rate,
        // The share of the window rank 0 spent waiting for the gradients' all-reduce.
        ...(communication === undefined
          ? {}
          : { communicationShare: communication / Math.max(1e-3, (now() - windowStart) / 1000) }),
      });
      const partsText = Object.entries(averagedParts)
        .map(([name, v]) => ` ${name} ${v.toFixed(4)}`)
        .join('');
      if (!options.onStep)
        log(
          `step ${step}/${total} loss ${(windowLoss / windowSteps).toFixed(4)}${partsText ? ` (${partsText.trim()})` : ''} lr ${lr.toExponential(2)} ${rate.toFixed(0)} images/s`,
        );
      windowLoss = 0;
      windowParts.clear();
      windowSteps = 0;
      windowImages = 0;
      windowStart = now();
    }
    // Rank 0 validates; the other ranks wait for its verdict.
    const judge = () => (parallel ? parallel.validation(step, () => validate(step)) : validate(step));
    const validated = step % config.training.validateEvery === 0 || step === total;
    if (validated && (await judge())) stoppedBy = 'early-stopping';
    if (agreed?.timeUp ?? elapsed() >= timeLimit) {
      stoppedBy = 'time-limit';
      // The budget is spent: judge the model it produced, not only the last scheduled validation.
      if (!validated) await judge();
    }
    if (agreed?.stop ?? options.signal?.aborted) stoppedBy = 'signal';
    if (step % config.training.checkpointEvery === 0 || step === total || stoppedBy !== 'completed') await checkpoint();
    if (stoppedBy !== 'completed') break;
  }
  if (progress.step === total || stoppedBy !== 'signal') await checkpoint();
  if (isMain && !validation && progress.bestStep === 0)
    exportModel(progress.step, inferenceFor(judged(), config, trainSet), {});
  if (metrics)
    writeFileAtomic(
      path.join(outDir, 'metrics.svg'),
      plotMetrics(metrics.read(), `${config.name}: training loss and validation accuracy`),
    );
  await parallel?.finish();
  const seconds = elapsed();
  log(
    `${stoppedBy === 'completed' ? 'finished' : `stopped (${stoppedBy})`} at step ${progress.step} after ${(seconds / 60).toFixed(1)} min; ${validation ? bestSoFar() : "no validation set, so the model is the last step's"}; model in ${outDir} (took ${((now() - started) / 1000).toFixed(0)} s this session)`,
  );
  return {
    steps: progress.step,
    seconds,
    bestAccuracy: progress.bestAccuracy,
    bestStep: progress.bestStep,
    stoppedBy,
    outDir,
  };
}
