import { describe, expect, it } from 'vitest';
import { noGrad } from '../../src/engine/autograd.js';
import { buildModel } from '../../src/models/factory.js';
import { BatchNorm } from '../../src/nn/layers.js';
import { validateConfig } from '../../src/training/config.js';
import { refitBatchNorm } from '../../src/training/batch-norm.js';
import { syntheticSet } from '../data/helpers.js';

const architecture = validateConfig({
  name: 'bn',
  data: { size: 8 },
  model: { kind: 'embedding', channels: [4, 4] },
  loss: { kind: 'prototypical' },
  sampler: { kind: 'episodes', way: 2, shot: 1, query: 1 },
  optimizer: { kind: 'adam', lr: 0.001, schedule: { kind: 'constant' } },
  training: { steps: 1 },
}).model;
const images = syntheticSet([6, 6], 5, { size: 8 });
const statistics = (model: ReturnType<typeof buildModel>) => model.buffers().flatMap((b) => b.toArray());

describe('refitBatchNorm()', () => {
  it('replaces the statistics gathered in training by those of the images, whatever they were', () => {
    const model = buildModel(architecture, 8);
    const corrupted = buildModel(architecture, 8);
    corrupted.loadStateDict(model.stateDict());
    noGrad(() => {
      for (const [, m] of corrupted.namedModules()) {
        if (m instanceof BatchNorm) {
          m.runningMean!.fill_(50);
          m.runningVar!.fill_(9);
        }
      }
    });
    const weights = model.parameters().map((p) => p.toArray());
    const before = statistics(model);
    expect(refitBatchNorm(model, images, { batches: 120, batchSize: 16, seed: 1 })).toBe(true);
    refitBatchNorm(corrupted, images, { batches: 120, batchSize: 16, seed: 1 });
    // 0.9^120 of the starting difference is left: under 2e-4 here.
    const after = statistics(model);
    statistics(corrupted).forEach((value, i) => expect(value).toBeCloseTo(after[i]!, 3));
    expect(after).not.toEqual(before);
    // Weights are untouched and every layer is back in eval mode.
    expect(model.parameters().map((p) => p.toArray())).toEqual(weights);
    expect([...model.namedModules()].some(([, m]) => m.isTraining)).toBe(false);
  });

  it('is deterministic for a seed, and says when there is no batch norm', () => {
    const a = buildModel(architecture, 8);
    const b = buildModel(architecture, 8);
    b.loadStateDict(a.stateDict());
    refitBatchNorm(a, images, { batches: 3, batchSize: 8, seed: 4 });
    refitBatchNorm(b, images, { batches: 3, batchSize: 8, seed: 4 });
    expect(statistics(b)).toEqual(statistics(a));
    const koch = buildModel({ kind: 'koch2015', codeSize: 16 } as typeof architecture, 105);
    expect(refitBatchNorm(koch, syntheticSet([2], 2, { size: 105 }), { batches: 1, seed: 1 })).toBe(false);
  });
});
