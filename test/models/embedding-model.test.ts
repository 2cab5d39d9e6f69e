import { describe, expect, it } from 'vitest';
import { ones, tensor, zeros } from '../../src/engine/index.js';
import { EmbeddingModel } from '../../src/models/embedding-model.js';
import { Conv2d, Linear, Sequential, Flatten } from '../../src/nn/index.js';

describe('EmbeddingModel', () => {
  it('registers a module, so its parameters train and its mode follows', () => {
    const net = new Sequential(new Conv2d(1, 2, 3), new Flatten(), new Linear(2 * 6 * 6, 4));
    const model = new EmbeddingModel(net, { metric: 'cosine' });
    expect(model.parameters()).toHaveLength(4);
    model.eval();
    expect(net.isTraining).toBe(false);
    expect(model.embed(zeros([5, 1, 8, 8])).shape).toEqual([5, 4]);
  });

  it('compares vectors under its metric and scores alike pairs higher', () => {
    const a = tensor([[0, 0]], { dtype: 'float32' });
    const b = tensor([[3, 4]], { dtype: 'float32' });
    expect(new EmbeddingModel((x) => x).distanceMatrix(a, b).item()).toBeCloseTo(5);
    expect(new EmbeddingModel((x) => x, { metric: 'l1' }).pairDistances(a, b).item()).toBeCloseTo(7);
    const cosine = new EmbeddingModel((x) => x, { metric: 'cosine' });
    expect(cosine.distanceMatrix(b, b.mul(2)).item()).toBeCloseTo(0, 5);
    expect(cosine.pairLogits(b, b).item()).toBeGreaterThan(cosine.pairLogits(b, tensor([[4, -3]], { dtype: 'float32' })).item());
  });

  it('flattens [N, ...] outputs and explains outputs that are not one vector per image', () => {
    expect(new EmbeddingModel((x) => x).embed(ones([2, 1, 3, 3])).shape).toEqual([2, 9]);
    expect(() => new EmbeddingModel((x) => x.sum()).embed(ones([2, 1, 3, 3]))).toThrow(
      /must map images \[2, 1, 3, 3\] to vectors \[2, D\]; got \[\]/,
    );
    expect(() => new EmbeddingModel((x) => x, { metric: 'dot' as never })).toThrow(/metric must be one of l2, cosine, l1/);
    expect(() => new EmbeddingModel({} as never)).toThrow(/give a Module or a function/);
  });
});
