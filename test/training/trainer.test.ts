import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadOmniglot } from '../../src/data/omniglot.js';
import type { ImageSet } from '../../src/data/dataset.js';
import { validateConfig, type TrainConfig } from '../../src/training/config.js';
import { train, CHECKPOINT_FILE, METRICS_FILE } from '../../src/training/trainer.js';
import { loadModelFolder } from '../../src/models/model-folder.js';
import { sampleTrials } from '../../src/evaluation/protocols.js';
import { evaluateOneShot } from '../../src/evaluation/one-shot.js';
import { MetricsLog } from '../../src/training/metrics-log.js';
import { loadFile } from '../../src/io/safetensors.js';
import { setNumThreads, getNumThreads } from '../../src/engine/runtime.js';
import { needs, OMNIGLOT } from '../helpers/prerequisites.js';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-train-'));

function smallConfig(overrides: Partial<Record<keyof TrainConfig, unknown>> = {}): TrainConfig {
  return validateConfig({
    name: 'test-run',
    seed: 3,
    data: { size: 28 },
    model: { kind: 'embedding', channels: [32, 32, 32] },
    loss: { kind: 'prototypical' },
    sampler: { kind: 'episodes', way: 10, shot: 1, query: 2, withinGroup: true },
    augment: null,
    optimizer: { kind: 'adam', lr: 0.003, schedule: { kind: 'constant' } },
    training: {
      steps: 160,
      epochSteps: 80,
      validateEvery: 80,
      validationTrials: 100,
      checkpointEvery: 20,
      logEvery: 10,
    },
    ...overrides,
  });
}

describe('validateConfig()', () => {
  it('fills defaults and accepts the shipped configs', () => {
    const config = smallConfig();
    expect(config.data.invert).toBe(true);
    expect(config.model.kind === 'embedding' && config.model.distance).toBe('squared-euclidean');
    for (const file of fs.readdirSync('configs')) {
      expect(() => validateConfig(JSON.parse(fs.readFileSync(path.join('configs', file), 'utf8')), file)).not.toThrow();
    }
  });

  it('names every wrong key and value', () => {
    const bad = {
      ...smallConfig(),
      data: { size: 28, sise: 3 },
      optimizer: { kind: 'adam', lr: -1, schedule: {} },
      loss: { kind: 'quadruplet' },
    };
    let message = '';
    try {
      validateConfig(bad, 'bad.json');
    } catch (error) {
      message = (error as Error).message;
      expect((error as { code: string }).code).toBe('ERR_CONFIG');
    }
    expect(message).toMatch(/^bad\.json is invalid/);
    expect(message).toContain('/data/sise: Unexpected property');
    expect(message).toContain('/optimizer/lr: Expected number to be greater than 0 (got -1)');
    expect(message).toContain(
      '/loss/kind: must be one of "prototypical", "koch-bce", "triplet", "contrastive" (got "quadruplet")',
    );
  });

  it('frames images by their ink only when asked, and refuses another framing', () => {
    expect(smallConfig({ data: { size: 28, frame: 'ink' } }).data.frame).toBe('ink');
    expect(smallConfig().data.frame).toBe('image');
    expect(() => smallConfig({ data: { size: 28, frame: 'crop' } })).toThrow(/\/data\/frame/);
  });

  it('takes an elastic warp in the augmentation and names a wrong setting in it', () => {
    const config = smallConfig({ augment: { probability: 0.5, elastic: { magnitude: 10 } } });
    expect(config.augment?.elastic).toEqual({ magnitude: 10 });
    expect(() => smallConfig({ augment: { probability: 0.5, elastic: { magnitude: 10, controlPoints: 1 } } })).toThrow(
      '/augment/elastic/controlPoints: Expected integer to be greater or equal to 2 (got 1)',
    );
    expect(() => smallConfig({ augment: { probability: 2 } })).toThrow(
      '/augment/probability: Expected number to be less or equal to 1 (got 2)',
    );
  });
});

needs(OMNIGLOT).describe('train() on a small real subset of Omniglot', () => {
  let trainSet: ImageSet;
  let validation: ImageSet;
  let threads: number;

  beforeAll(async () => {
    const background = await loadOmniglot({ split: 'background', size: 28 });
    trainSet = background.selectGroups([0, 1, 2, 3, 4, 5]);
    validation = background.selectGroups([10, 11]);
    // A fixed thread count keeps floating-point sums identical between the runs compared below.
    threads = getNumThreads();
    setNumThreads(1);
    return () => setNumThreads(threads);
  });

  it.each(['float32', 'bfloat16'] as const)(
    'lowers the loss and lifts one-shot accuracy on unseen alphabets far above chance (%s)',
    async (precision) => {
      const outDir = tmp();
      const training = { ...smallConfig().training, precision };
      const untrained = smallConfig({ training: { ...training, steps: 1, validateEvery: 1 } });
      await train({
        config: untrained,
        outDir: path.join(outDir, 'untrained'),
        data: { train: trainSet, validation },
        log: () => {},
      });
      const result = await train({
        config: smallConfig({ training }),
        outDir,
        data: { train: trainSet, validation },
        log: () => {},
      });
      expect(result.steps).toBe(160);
      const records = new MetricsLog(path.join(outDir, METRICS_FILE)).read();
      const losses = records.filter((r) => r.kind === 'train').map((r) => r.loss as number);
      expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.7);

      const tasks = sampleTrials(validation, { way: 5, shot: 1, trials: 300, seed: 9, withinGroup: true });
      const before = evaluateOneShot(loadModelFolder(path.join(outDir, 'untrained')).inference, validation, tasks);
      const after = evaluateOneShot(loadModelFolder(outDir).inference, validation, tasks);
      expect(after.accuracy).toBeGreaterThan(0.55); // chance is 0.2
      expect(after.accuracy).toBeGreaterThan(before.accuracy + 0.1);
      expect(fs.existsSync(path.join(outDir, 'metrics.svg'))).toBe(true);
      const card = JSON.parse(fs.readFileSync(path.join(outDir, 'config.json'), 'utf8'));
      expect(card.training.config.name).toBe('test-run');
      expect(card.metrics.validation.trials).toBe(100);
      expect(card.training.config.training.precision).toBe(precision);
    },
    120_000,
  );

  it('trains a pair comparator with the embedding; the card carries it, its threshold and its re-ranking', async () => {
    const outDir = tmp();
    const base = smallConfig();
    const config = smallConfig({
      model: { kind: 'embedding', channels: [32, 32, 32], comparator: { block: 2, channels: 8, hidden: 16 } },
      comparator: { candidates: 5 },
      evaluation: { rerank: 3 },
      training: { ...base.training, steps: 80, validateEvery: 80 },
    });
    await train({ config, outDir, data: { train: trainSet, validation }, log: () => {} });
    const loaded = loadModelFolder(outDir);
    expect(loaded.inference.hasComparator).toBe(true);
    expect(loaded.card.inference.rerank).toBe(3);
    expect(loaded.card.verification.comparator!.scale).toBeGreaterThan(0);
    const verification = loaded.card.metrics.validationComparatorVerification as { rocAuc: number; pairs: number };
    expect(verification.rocAuc).toBeGreaterThan(0.75); // 0.5 is chance
    const validated = new MetricsLog(path.join(outDir, METRICS_FILE)).read().find((r) => r.kind === 'validation')!;
    expect(validated.embeddingAccuracy).toBeGreaterThan(0.2);
    const tasks = sampleTrials(validation, { way: 5, shot: 1, trials: 300, seed: 9, withinGroup: true });
    expect(evaluateOneShot(loaded.inference, validation, tasks).accuracy).toBeGreaterThan(0.45); // chance is 0.2

    // training.init starts a run from those weights: after one step too small to move them, the
    // comparator still separates pairs as the trained one does (an untrained one is near 0.5).
    const initialised = tmp();
    const lines: string[] = [];
    await train({
      config: {
        ...config,
        optimizer: {
          kind: 'adam',
          lr: 1e-12,
          weightDecay: 0,
          schedule: { kind: 'constant', warmupSteps: 0, minFactor: 0 },
        },
        training: { ...config.training, steps: 1, validateEvery: 1, init: outDir },
      },
      outDir: initialised,
      data: { train: trainSet, validation },
      log: (line) => lines.push(line),
    });
    expect(lines).toContain(`initialised from ${outDir}`);
    const again = loadModelFolder(initialised).card.metrics.validationComparatorVerification as { rocAuc: number };
    expect(again.rocAuc).toBeGreaterThan(0.75);
  }, 180_000);

  it('resumes exactly, elastic warps included: 3 + 3 steps equal 6 uninterrupted steps', async () => {
    const config = smallConfig({
      training: { ...smallConfig().training, steps: 6, checkpointEvery: 3, validateEvery: 100 },
      augment: { probability: 0.5, elastic: { magnitude: 10 } },
    });
    const straight = tmp();
    const lines: string[] = [];
    await train({ config, outDir: straight, data: { train: trainSet, validation: null }, log: (l) => lines.push(l) });
    expect(lines.at(-1)).toMatch(/^finished at step 6 .*no validation set, so the model is the last step's/);
    // With nothing held out, the threshold comes from training pairs and the card names them so.
    const metrics = loadModelFolder(straight).card.metrics;
    expect(Object.keys(metrics)).toEqual(['trainingVerification']);
    const split = tmp();
    const half = { ...config, training: { ...config.training, steps: 3 } };
    await train({ config: half, outDir: split, data: { train: trainSet, validation: null }, log: () => {} });
    await train({ config, outDir: split, resume: true, data: { train: trainSet, validation: null }, log: () => {} });
    const a = loadModelFolder(straight).model.stateDict();
    const b = loadModelFolder(split).model.stateDict();
    for (const [name, t] of a) expect(b.get(name)!.toArray(), name).toEqual(t.toArray());
  }, 120_000);

  it('with training.ema exports the weight average, and resumes it exactly', async () => {
    const config = smallConfig({
      training: { ...smallConfig().training, steps: 6, checkpointEvery: 3, validateEvery: 100, ema: 0.9 },
    });
    const straight = tmp();
    await train({ config, outDir: straight, data: { train: trainSet, validation: null }, log: () => {} });
    const split = tmp();
    const half = { ...config, training: { ...config.training, steps: 3 } };
    await train({ config: half, outDir: split, data: { train: trainSet, validation: null }, log: () => {} });
    await train({ config, outDir: split, resume: true, data: { train: trainSet, validation: null }, log: () => {} });
    const exported = loadModelFolder(straight).model.stateDict();
    const resumed = loadModelFolder(split).model.stateDict();
    for (const [name, t] of exported) expect(resumed.get(name)!.toArray(), name).toEqual(t.toArray());
    // The checkpoint keeps both: the exported weights are the average, not the last step's.
    const { tensors } = loadFile(path.join(straight, CHECKPOINT_FILE));
    const name = [...exported.keys()].find((n) => n.endsWith('weight'))!;
    expect(tensors.get(`average.${name}`)!.toArray()).toEqual(exported.get(name)!.toArray());
    expect(tensors.get(`model.${name}`)!.toArray()).not.toEqual(exported.get(name)!.toArray());
    // Keeping an average does not touch the live weights: they are those of a run without one.
    const withoutAverage = tmp();
    const noEma = { ...config, training: { ...config.training, ema: 0 } };
    await train({ config: noEma, outDir: withoutAverage, data: { train: trainSet, validation: null }, log: () => {} });
    const lastWeights = loadModelFolder(withoutAverage).model.stateDict().get(name)!.toArray();
    expect(tensors.get(`model.${name}`)!.toArray()).toEqual(lastWeights);
    // A run without the average cannot be resumed as one with it.
    const plain = tmp();
    const noAverage = { ...half, training: { ...half.training, ema: 0 } };
    await train({ config: noAverage, outDir: plain, data: { train: trainSet, validation: null }, log: () => {} });
    await expect(
      train({ config, outDir: plain, resume: true, data: { train: trainSet, validation: null }, log: () => {} }),
    ).rejects.toThrow(/holds no weight average; resume with the config it was made with/);
  }, 120_000);

  it('with training.refitBatchNorm exports the weights with re-estimated batch-norm statistics', async () => {
    const outDir = tmp();
    const config = smallConfig({
      training: { ...smallConfig().training, steps: 4, validateEvery: 100, refitBatchNorm: 5 },
    });
    await train({ config, outDir, data: { train: trainSet, validation: null }, log: () => {} });
    const exported = loadModelFolder(outDir).model.stateDict();
    const { tensors } = loadFile(path.join(outDir, CHECKPOINT_FILE));
    for (const [name, t] of exported) {
      const live = tensors.get(`model.${name}`)!.toArray();
      if (name.endsWith('running_mean')) expect(t.toArray(), name).not.toEqual(live);
      else if (!name.includes('running_') && !name.endsWith('num_batches_tracked'))
        expect(t.toArray(), name).toEqual(live);
    }
  }, 60_000);

  it('judges the model it reached when the time limit stops it between validations', async () => {
    const outDir = tmp();
    // A clock that moves 10 minutes at every reading: the 5-minute budget is spent by the end of
    // step 1 whatever the machine's speed (no wall-clock race).
    let readings = 0;
    const now = () => 600_000 * readings++;
    const config = smallConfig({ training: { ...smallConfig().training, timeLimitMinutes: 5 } });
    const result = await train({ config, outDir, data: { train: trainSet, validation }, log: () => {}, now });
    expect(result.stoppedBy).toBe('time-limit');
    expect(result.steps).toBe(1);
    const validations = new MetricsLog(path.join(outDir, METRICS_FILE)).read().filter((r) => r.kind === 'validation');
    expect(validations.map((r) => r.step)).toEqual([1]);
    expect(loadModelFolder(outDir).card.training?.steps).toBe(1);
  }, 60_000);

  it('stops cleanly on a signal with a checkpoint, and refuses to overwrite a run', async () => {
    const outDir = tmp();
    const controller = new AbortController();
    const result = await train({
      config: smallConfig(),
      outDir,
      data: { train: trainSet, validation: null },
      signal: controller.signal,
      log: () => {},
      onStep: (info) => info.step === 5 && controller.abort(),
    });
    expect(result.stoppedBy).toBe('signal');
    expect(result.steps).toBe(5);
    expect(fs.existsSync(path.join(outDir, CHECKPOINT_FILE))).toBe(true);
    await expect(
      train({ config: smallConfig(), outDir, data: { train: trainSet, validation: null }, log: () => {} }),
    ).rejects.toThrow(/--resume/);
  }, 60_000);
});
