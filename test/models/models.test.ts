import { describe, expect, it } from 'vitest';
import { manualSeed, rand, randn, tidy } from '../../src/engine/index.js';
import { Koch2015 } from '../../src/models/koch2015.js';
import { EmbeddingNet } from '../../src/models/embedding-net.js';
import { InferenceModel } from '../../src/models/inference.js';
import { applyAffine, IDENTITY_AFFINE } from '../../src/data/augment.js';
import { expectClose } from '../helpers/assert.js';

describe('Koch2015', () => {
  it('has the published architecture and about 38.95 million parameters', () => {
    manualSeed(0);
    const net = new Koch2015();
    expect(net.numParameters()).toBe(38_951_745);
    const shapes = Object.fromEntries([...net.namedParameters()].map(([n, p]) => [n, p.shape]));
    expect(shapes['encoder.conv1.weight']).toEqual([64, 1, 10, 10]);
    expect(shapes['encoder.conv2.weight']).toEqual([128, 64, 7, 7]);
    expect(shapes['encoder.conv3.weight']).toEqual([128, 128, 4, 4]);
    expect(shapes['encoder.conv4.weight']).toEqual([256, 128, 4, 4]);
    expect(shapes['encoder.fc.weight']).toEqual([4096, 9216]);
    expect(shapes['head.weight']).toEqual([1, 4096]);
    // Initialisation (section 3.3): conv weights N(0, 0.01), biases N(0.5, 0.01), fc weights N(0, 0.2).
    expect(Math.abs(net.encoder.conv2.weight.std().item() - 0.01)).toBeLessThan(0.001);
    expect(Math.abs(net.encoder.conv2.bias!.mean().item() - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(net.encoder.fc.weight.std().item() - 0.2)).toBeLessThan(0.005);
  });

  it('embeds to 4096 sigmoid units and scores pairs symmetrically', () => {
    tidy(() => {
      manualSeed(1);
      const net = new Koch2015();
      const a = rand([2, 1, 105, 105]);
      const b = rand([2, 1, 105, 105]);
      const ea = net.embed(a);
      expect(ea.shape).toEqual([2, 4096]);
      expect(ea.min().item()).toBeGreaterThanOrEqual(0);
      expect(ea.max().item()).toBeLessThanOrEqual(1);
      const eb = net.embed(b);
      expectClose(net.pairLogits(ea, eb), net.pairLogits(eb, ea));
      const p = net.forward(a, b);
      expect(p.shape).toEqual([2]);
      // the distance matrix is the negated pair logit, computed for every pair
      const m = net.distanceMatrix(ea, eb);
      expectClose(m.diagonal(), net.pairLogits(ea, eb).neg(), { atol: 1e-4 });
    });
  });
});

describe('EmbeddingNet', () => {
  it('builds conv-4 and residual backbones with the documented output sizes', () => {
    const conv4 = new EmbeddingNet({ backbone: 'conv', channels: [64, 64, 64, 64], inputSize: 28 });
    expect(conv4.embed(rand([3, 1, 28, 28])).shape).toEqual([3, 64]);
    const wide = new EmbeddingNet({ backbone: 'conv', channels: [64, 64, 64, 64], inputSize: 28, poolLast: false });
    expect(wide.embed(rand([2, 1, 28, 28])).shape).toEqual([2, 576]);
    const res = new EmbeddingNet({ backbone: 'resnet', channels: [16, 32], inputSize: 28, globalPool: true, embeddingDim: 8, normalize: true });
    const e = res.embed(rand([2, 1, 28, 28]));
    expect(e.shape).toEqual([2, 8]);
    expectClose(e.norm(2, 1), [1, 1]);
  });

  it('answers distances and pair logits consistently', () => {
    manualSeed(2);
    const net = new EmbeddingNet({ backbone: 'conv', channels: [8], inputSize: 8, distance: 'euclidean' });
    const a = randn([3, 4]);
    const b = randn([3, 4]);
    expectClose(net.distanceMatrix(a, b).diagonal(), a.sub(b).norm(2, 1), { atol: 1e-5 });
    expectClose(net.pairLogitMatrix(a, b).diagonal(), net.pairLogits(a, b), { atol: 1e-5 });
    expect(() => new EmbeddingNet({ backbone: 'conv', channels: [8, 8, 8, 8], inputSize: 8 })).toThrow(/too small/);
  });
});

describe('InferenceModel test-time views', () => {
  it('averages the embeddings of the image and its fixed distortions, and refuses a count it has no views for', () => {
    manualSeed(3);
    const net = new EmbeddingNet({ backbone: 'conv', channels: [4, 4], inputSize: 28 }).eval();
    const images = rand([3, 1, 28, 28]);
    tidy(() => {
      expectClose(new InferenceModel(net).embed(images), net.embed(images), { atol: 1e-6 });
      // The second view is a 6-degree rotation (inference.ts VIEWS).
      const rotated = applyAffine(images, new Array(3).fill({ ...IDENTITY_AFFINE, rotation: 6 }));
      const expected = net.embed(images).add(net.embed(rotated)).div(2);
      const twoViews = new InferenceModel(net, { centering: 'none', views: 2 }).embed(images);
      expectClose(twoViews, expected, { atol: 1e-5 });
      expect(twoViews.sub(net.embed(images)).abs().max().item()).toBeGreaterThan(1e-4);
    });
    for (const views of [0, 2.5, 9])
      expect(() => new InferenceModel(net, { centering: 'none', views })).toThrow(/whole number from 1 to 8; got/);
  });
});
