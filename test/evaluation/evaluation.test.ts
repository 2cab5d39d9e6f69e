import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Tensor } from '../../src/engine/tensor.js';
import { manualSeed, tensor } from '../../src/engine/index.js';
import { TwinModel } from '../../src/models/twin-model.js';
import { asInference, InferenceModel } from '../../src/models/inference.js';
import { Flatten } from '../../src/nn/layers.js';
import { EmbeddingNet } from '../../src/models/embedding-net.js';
import { saveModelFolder, readModelCard, MODEL_FORMAT } from '../../src/models/model-folder.js';
import { evaluateOneShot, type EvalTask } from '../../src/evaluation/one-shot.js';
import { sampleTrials } from '../../src/evaluation/protocols.js';
import { estimateAccuracy, formatAccuracy, wilsonInterval } from '../../src/evaluation/statistics.js';
import { fitCalibration, rocAuc, verificationMetrics } from '../../src/evaluation/verification.js';
import { kMeans, normalizedMutualInformation, retrievalMetrics } from '../../src/evaluation/retrieval.js';
import { validateConfig } from '../../src/training/config.js';
import { main } from '../../src/cli/index.js';
import { syntheticSet } from '../data/helpers.js';
import { needs, OMNIGLOT } from '../helpers/prerequisites.js';

/** Embeds an image as its raw pixels: a model whose answers we can work out by hand. */
class PixelsAsCodes extends TwinModel {
  embed(images: Tensor): Tensor {
    return images.flatten(1);
  }
  pairDistances(a: Tensor, b: Tensor): Tensor {
    return a.sub(b).norm(2, 1);
  }
  pairLogits(a: Tensor, b: Tensor): Tensor {
    return this.pairDistances(a, b).neg();
  }
  pairLogitMatrix(a: Tensor, b: Tensor): Tensor {
    return a.cdist(b).neg();
  }
  distanceMatrix(a: Tensor, b: Tensor): Tensor {
    return a.cdist(b);
  }
}

describe('wilsonInterval()', () => {
  it('matches published values', () => {
    const [lo, hi] = wilsonInterval(50, 100);
    expect(lo).toBeCloseTo(0.4038, 4);
    expect(hi).toBeCloseTo(0.5962, 4);
    expect(wilsonInterval(0, 10)[0]).toBe(0);
    expect(wilsonInterval(0, 10)[1]).toBeCloseTo(0.2775, 4);
    expect(wilsonInterval(10, 10)[0]).toBeCloseTo(0.7225, 4);
    expect(formatAccuracy(estimateAccuracy(92, 100))).toBe('92.0% ± 5.4 (95% CI 85.0–95.9, 100 trials)');
  });
});

describe('sampleTrials()', () => {
  const set = syntheticSet([25, 20, 8], 6);

  it('draws within one group, with one support drawer and another query drawer, reproducibly', () => {
    const trials = sampleTrials(set, { way: 20, shot: 1, trials: 50, seed: 4, withinGroup: true });
    expect(trials).toHaveLength(50);
    for (const t of trials) {
      const groups = new Set([...t.support].map((i) => set.groupOfImage(i)));
      expect(groups.size).toBe(1);
      expect(set.groupOfImage(t.queries[0]!)).toBe([...groups][0]);
      const supportDrawers = new Set([...t.support].map((i) => set.drawers[i]));
      expect(supportDrawers.size).toBe(1);
      expect(supportDrawers.has(set.drawers[t.queries[0]!]!)).toBe(false);
      expect(set.labels[t.support[t.answers[0]!]!]).toBe(set.labels[t.queries[0]!]);
    }
    expect(sampleTrials(set, { way: 20, shot: 1, trials: 50, seed: 4, withinGroup: true })).toEqual(trials);
    expect(sampleTrials(set, { way: 20, shot: 1, trials: 50, seed: 5, withinGroup: true })).not.toEqual(trials);
  });

  it('lays out K shots class by class and refuses impossible requests', () => {
    const [t] = sampleTrials(set, { way: 5, shot: 3, trials: 1, seed: 1, withinGroup: false });
    expect(t!.support).toHaveLength(15);
    for (let w = 0; w < 5; w++)
      expect(new Set([...t!.support.slice(w * 3, w * 3 + 3)].map((i) => set.labels[i])).size).toBe(1);
    expect(() => sampleTrials(set, { way: 30, shot: 1, trials: 1, seed: 1, withinGroup: true })).toThrow(
      /no group .* has 30 classes/,
    );
  });
});

describe('evaluateOneShot()', () => {
  // syntheticSet: image i is filled with the value i, class c holds images 4c..4c+3 (drawers 0..3).
  const set = syntheticSet([10], 4);
  const inference = new InferenceModel(new PixelsAsCodes());
  const tasks = (queryDrawer: number): EvalTask[] => [
    {
      support: Int32Array.from({ length: 10 }, (_, c) => 4 * c),
      queries: Int32Array.from({ length: 10 }, (_, c) => 4 * c + queryDrawer),
      answers: Int32Array.from({ length: 10 }, (_, c) => c),
      group: 0,
      name: 'g0',
    },
  ];

  it('gets a task right when each query is closest to its own class', () => {
    const result = evaluateOneShot(inference, set, tasks(1));
    expect(result.correct).toBe(10);
    expect(result.trials).toBe(10);
  });

  it('gets exactly the predictable trials right when the next class is closer', () => {
    // drawer 3 is 3 values above its class's support but 1 below the next class's: only the last class wins
    const result = evaluateOneShot(inference, set, tasks(3));
    expect(result.correct).toBe(1);
    expect(result.perGroup.g0!.trials).toBe(10);
  });

  it('takes a function or any module that embeds in place of a model, with a metric', () => {
    const flatten = (images: Tensor) => images.flatten(1);
    expect(evaluateOneShot(flatten, set, tasks(1)).correct).toBe(10);
    expect(evaluateOneShot(flatten, set, tasks(3)).correct).toBe(1);
    expect(evaluateOneShot(new Flatten(), set, tasks(3), { metric: 'l1' }).correct).toBe(1);
    // Constant images are parallel vectors: under cosine every class is as near as any other.
    expect(evaluateOneShot(flatten, set, tasks(1), { metric: 'cosine' }).correct).toBeLessThan(10);
    expect(asInference(flatten, { metric: 'cosine' }).metric).toBe('cosine');
    expect(asInference(inference)).toBe(inference);
  });
});

/**
 * A comparator that knows the answer: each image's feature is its class (its pixel value / 4 in syntheticSet),
 * and a pair's logit is minus the difference of classes, so it is right whenever it is asked.
 */
class OracleComparator extends InferenceModel {
  override get hasComparator(): boolean {
    return true;
  }
  override encode(images: Tensor): { embedding: Tensor; features: Tensor } {
    return { embedding: this.embed(images), features: images.flatten(1).mean(1, true).mul(255).round().div(4).floor() };
  }
  override compare(a: Tensor, b: Tensor): Tensor {
    return a.sub(b).abs().sum(1).neg();
  }
}

describe('evaluateOneShot() with re-ranking', () => {
  const set = syntheticSet([10], 4);
  // Drawer 3 lies 3 above its class's support and 1 below the next class's: the embedding gets one
  // query in ten right; its nearest two classes always hold the answer.
  const task: EvalTask = {
    support: Int32Array.from({ length: 10 }, (_, c) => 4 * c),
    queries: Int32Array.from({ length: 10 }, (_, c) => 4 * c + 3),
    answers: Int32Array.from({ length: 10 }, (_, c) => c),
    group: 0,
    name: 'g0',
  };
  const oracle = new OracleComparator(new PixelsAsCodes(), { centering: 'none', rerank: 2 });

  it("re-ranks the embedding's nearest candidates by the comparator", () => {
    expect(evaluateOneShot(oracle, set, [task], { rerank: null }).correct).toBe(1);
    expect(evaluateOneShot(oracle, set, [task], { rerank: 1 }).correct).toBe(1);
    expect(evaluateOneShot(oracle, set, [task], { rerank: 2 }).correct).toBe(10);
    expect(evaluateOneShot(oracle, set, [task], { rerank: 0 }).correct).toBe(10);
  });

  it("uses the model's own setting when none is given", () => {
    expect(evaluateOneShot(oracle, set, [task]).correct).toBe(10);
    const one = new OracleComparator(new PixelsAsCodes(), { centering: 'none', rerank: 1 });
    expect(evaluateOneShot(one, set, [task]).correct).toBe(1);
  });

  it('averages the logits over the shots of a candidate class', () => {
    // Two shots: drawers 0 and 1 are the support, drawer 3 the query.
    const twoShot: EvalTask = {
      support: Int32Array.from({ length: 20 }, (_, i) => 4 * Math.floor(i / 2) + (i % 2)),
      queries: task.queries,
      answers: task.answers,
      group: 0,
      name: 'g0',
      way: 10,
    };
    expect(evaluateOneShot(oracle, set, [twoShot], { rerank: 2 }).correct).toBe(10);
  });
});

describe('verificationMetrics()', () => {
  it('computes AUC, EER, best threshold and VAL@FAR on known cases', () => {
    const perfect = verificationMetrics([0.1, 0.2, 0.3, 0.4], [1, 1, 0, 0]);
    expect(perfect.rocAuc).toBe(1);
    expect(perfect.eer).toBe(0);
    expect(perfect.bestAccuracy).toBe(1);
    expect(perfect.bestThreshold).toBeCloseTo(0.25, 10);
    expect(perfect.tarAtFar1e3).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.3, 0.4], [1, 0, 1, 0])).toBeCloseTo(0.75, 10);
    expect(rocAuc([0.5, 0.5], [1, 0])).toBeCloseTo(0.5, 10);
  });

  it('recovers a known logistic calibration', () => {
    const distances: number[] = [];
    const same: boolean[] = [];
    let seed = 1;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let i = 0; i < 20000; i++) {
      const d = rand() * 2;
      distances.push(d);
      same.push(rand() < 1 / (1 + Math.exp(-4 * (0.8 - d))));
    }
    const fit = fitCalibration(distances, same);
    expect(fit.threshold).toBeGreaterThan(0.7);
    expect(fit.threshold).toBeLessThan(0.9);
    expect(fit.scale).toBeGreaterThan(3.3);
    expect(fit.scale).toBeLessThan(4.7);
  });
});

describe('retrievalMetrics()', () => {
  it('scores separated clusters perfectly and mixed ones poorly', () => {
    const clustered = tensor([[0], [0.1], [0.2], [5], [5.1], [5.2]], { dtype: 'float32' });
    const good = retrievalMetrics(clustered, [0, 0, 0, 1, 1, 1]);
    expect(good).toMatchObject({ queries: 6, precisionAt1: 1, rPrecision: 1, mapAtR: 1 });
    expect(good.nmi).toBeCloseTo(1, 10);
    const mixed = retrievalMetrics(tensor([[0], [1], [2.5], [4.2]], { dtype: 'float32' }), [0, 1, 0, 1]);
    expect(mixed.precisionAt1).toBe(0);
    expect(mixed.mapAtR).toBe(0);
  });

  it('k-means and NMI behave on simple inputs', () => {
    const points = tensor(
      [
        [0, 0],
        [0, 0.2],
        [10, 10],
        [10, 10.2],
      ],
      { dtype: 'float32' },
    );
    const clusters = kMeans(points, 2, { seed: 3 });
    expect(clusters[0]).toBe(clusters[1]);
    expect(clusters[2]).toBe(clusters[3]);
    expect(clusters[0]).not.toBe(clusters[2]);
    expect(normalizedMutualInformation([0, 0, 1, 1], [5, 5, 7, 7])).toBeCloseTo(1, 10);
    expect(normalizedMutualInformation([0, 1, 0, 1], [0, 0, 1, 1])).toBeCloseTo(0, 10);
  });
});

needs(OMNIGLOT).describe('twinshot eval --json', () => {
  it('prints one JSON object with accuracy, trials, CI, protocol and model; the same seed gives the same tasks', async () => {
    manualSeed(1);
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-eval-')), 'tiny');
    const config = validateConfig({
      name: 'tiny',
      data: { size: 28 },
      model: { kind: 'embedding', channels: [8, 8] },
      loss: { kind: 'prototypical' },
      sampler: { kind: 'episodes', way: 5, shot: 1, query: 1 },
      optimizer: { kind: 'adam', lr: 0.001, schedule: {} },
      training: { steps: 1, epochSteps: 1, validateEvery: 1, validationTrials: 20, checkpointEvery: 1 },
    });
    const model = new EmbeddingNet({ backbone: 'conv', channels: [8, 8], inputSize: 28 });
    saveModelFolder(dir, model, {
      format: MODEL_FORMAT,
      version: 1,
      name: 'tiny',
      architecture: config.model,
      preprocessing: { size: 28, invert: true },
      verification: { threshold: 1, scale: 1 },
      inference: { centering: 'none' },
      metrics: {},
    });
    const run = async (...extra: string[]) => {
      const lines: string[] = [];
      const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
      try {
        await main([
          'node',
          'twinshot',
          'eval',
          '--model',
          dir,
          '--protocol',
          'within-alphabet',
          '--way',
          '5',
          '--trials',
          '40',
          '--seed',
          '2',
          '--json',
          ...extra,
        ]);
      } finally {
        spy.mockRestore();
      }
      return JSON.parse(lines.at(-1)!);
    };
    const first = await run();
    expect(first).toMatchObject({
      protocol: 'within-alphabet',
      model: 'tiny',
      way: 5,
      shot: 1,
      trials: 40,
      seed: 2,
      views: 1,
    });
    expect(first.accuracy).toBeGreaterThanOrEqual(0);
    expect(first.ci95).toHaveLength(2);
    expect(first.ci95[0]).toBeLessThanOrEqual(first.accuracy);
    expect((await run()).accuracy).toBe(first.accuracy);
    expect(await run('--views', '4')).toMatchObject({ trials: 40, views: 4 });
    // --adapt fine-tunes per task and says so; the same seed still gives the same answers.
    const adapted = await run('--adapt', '2', '--adapt-lr', '0.001');
    expect(adapted).toMatchObject({ trials: 40, adaptation: { steps: 2, lr: 0.001, distortions: 4 } });
    expect((await run('--adapt', '2', '--adapt-lr', '0.001')).accuracy).toBe(adapted.accuracy);
    await expect(run('--adapt-lr', '0.001')).rejects.toThrow(/give --adapt STEPS too/);
    await expect(run('--adapt', '2', '--protocol', 'verification')).rejects.toThrow(/has none/);
    // --record stores the result in the card, naming the data set without this machine's path.
    await run('--record');
    const recorded = readModelCard(dir).metrics['within-alphabet'] as Record<string, unknown>;
    expect(recorded).toMatchObject({ accuracy: first.accuracy, trials: 40, seed: 2 });
    expect(recorded.data).toBe(path.basename(first.data));
    expect(recorded.data).not.toContain(path.sep);
  }, 60_000);
});
