import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../src/engine/tensor.js';
import { cat, manualSeed, tensor } from '../../src/engine/index.js';
import { noGrad } from '../../src/engine/autograd.js';
import { ImageSet } from '../../src/data/dataset.js';
import { RandomAffine } from '../../src/data/augment.js';
import { Rng } from '../../src/data/random.js';
import { EmbeddingNet } from '../../src/models/embedding-net.js';
import { EnsembleNet } from '../../src/models/ensemble.js';
import { InferenceModel } from '../../src/models/inference.js';
import { Koch2015 } from '../../src/models/koch2015.js';
import { evaluateOneShot, type EvalTask } from '../../src/evaluation/one-shot.js';
import { SupportAdapter } from '../../src/evaluation/support-adaptation.js';
import * as F from '../../src/nn/functional.js';

const SIZE = 12;
const CLASSES = 6;
const DRAWERS = 3;

/** Each class is a random pattern of strokes; each drawer's copy flips a few of its pixels. */
function patternSet(): ImageSet {
  const rng = new Rng(3);
  const n = CLASSES * DRAWERS;
  const pixels = new Uint8Array(n * SIZE * SIZE);
  for (let c = 0; c < CLASSES; c++) {
    const pattern = Array.from({ length: SIZE * SIZE }, () => (rng.next() < 0.3 ? 255 : 0));
    for (let d = 0; d < DRAWERS; d++) {
      const at = (c * DRAWERS + d) * SIZE * SIZE;
      pattern.forEach((v, i) => (pixels[at + i] = rng.next() < 0.1 ? 255 - v : v));
    }
  }
  const labels = Int32Array.from({ length: n }, (_, i) => Math.floor(i / DRAWERS));
  return new ImageSet({
    pixels: tensor(pixels, { shape: [n, 1, SIZE, SIZE], dtype: 'uint8' }),
    labels,
    classNames: Array.from({ length: CLASSES }, (_, c) => `g0/c${c}`),
    classGroup: new Int32Array(CLASSES),
    groupNames: ['g0'],
    drawers: Int32Array.from({ length: n }, (_, i) => i % DRAWERS),
    paths: Array.from({ length: n }, (_, i) => `image${i}.png`),
    preprocessing: { size: SIZE, invert: true },
    source: 'synthetic',
  });
}

const set = patternSet();
const task = (queryDrawer: number): EvalTask => ({
  support: Int32Array.from({ length: CLASSES }, (_, c) => c * DRAWERS),
  queries: Int32Array.from({ length: CLASSES }, (_, c) => c * DRAWERS + queryDrawer),
  answers: Int32Array.from({ length: CLASSES }, (_, c) => c),
  group: 0,
  name: `g0:${queryDrawer}`,
});
const tasks = [task(1), task(2)];

function smallNet(seed: number): EmbeddingNet {
  manualSeed(seed);
  const net = new EmbeddingNet({ backbone: 'conv', channels: [8, 8], inputSize: SIZE, distance: 'squared-euclidean' });
  net.eval();
  return net;
}

const weights = (net: EmbeddingNet): number[][] => [...net.stateDict().values()].map((t) => t.toArray() as number[]);

/** The prototypical loss of the task's support against fixed distortions of it. */
function supportLoss(net: EmbeddingNet, support: Tensor, distorted: Tensor): number {
  return noGrad(() => {
    const protos = net.embed(support);
    const logits = net.distanceMatrix(net.embed(distorted), protos).neg();
    const labels = tensor(
      Array.from({ length: distorted.shape[0]! }, (_, i) => i % CLASSES),
      { dtype: 'int64' },
    );
    return F.crossEntropy(logits, labels).item();
  });
}

describe('SupportAdapter', () => {
  it("lowers the prototypical loss of the task's own distortions, and restore() puts every weight back", () => {
    const net = smallNet(1);
    const before = weights(net);
    const support = set.batch(task(1).support);
    const heldOut = new RandomAffine().apply(cat([support, support, support, support]), new Rng(99));
    const lossBefore = supportLoss(net, support, heldOut);
    const adapter = new SupportAdapter(net, { steps: 30, lr: 3e-3, seed: 1 });
    adapter.adapt(support, CLASSES);
    const lossAfter = supportLoss(net, support, heldOut);
    expect(lossAfter).toBeLessThan(lossBefore * 0.7);
    expect(weights(net)).not.toEqual(before);
    adapter.restore();
    expect(weights(net)).toEqual(before);
    adapter.dispose();
  });

  it('tunes every member of an ensemble and rejects models without an embedding network', () => {
    const a = smallNet(1);
    const b = smallNet(2);
    const ensemble = new EnsembleNet([a, b]);
    const [wa, wb] = [weights(a), weights(b)];
    const adapter = new SupportAdapter(ensemble, { steps: 2, lr: 1e-2 });
    adapter.adapt(set.batch(task(1).support), CLASSES);
    expect(weights(a)).not.toEqual(wa);
    expect(weights(b)).not.toEqual(wb);
    adapter.dispose();
    expect([weights(a), weights(b)]).toEqual([wa, wb]);
    expect(() => new SupportAdapter(new Koch2015(), { steps: 1 })).toThrow(/embedding networks/);
    expect(() => new SupportAdapter(a, { steps: 0 })).toThrow(/steps must be a whole number >= 1/);
    expect(() => new SupportAdapter(a, { steps: 1, lr: -1 })).toThrow(/learning rate must be a number > 0/);
  });
});

describe('evaluateOneShot() with adaptation', () => {
  it('matches the plain evaluation when the steps change nothing, and leaves the weights as they were', () => {
    const net = smallNet(4);
    const inference = new InferenceModel(net);
    const before = weights(net);
    const plain = evaluateOneShot(inference, set, tasks);
    // A learning rate this small moves no weight by a representable amount: only the per-task path differs.
    const still = evaluateOneShot(inference, set, tasks, { adaptation: { steps: 2, lr: 1e-30 } });
    expect(still.correct).toBe(plain.correct);
    expect(weights(net)).toEqual(before);
  });

  it('gives the same answers for the same seed', () => {
    const inference = new InferenceModel(smallNet(5));
    const options = { adaptation: { steps: 5, lr: 1e-2, seed: 3 } };
    const first = evaluateOneShot(inference, set, tasks, options);
    const again = evaluateOneShot(inference, set, tasks, options);
    expect(again.correct).toBe(first.correct);
    expect(again.perGroup).toEqual(first.perGroup);
  });
});
