import { describe, expect, it } from 'vitest';
import { noGrad } from '../../src/engine/autograd.js';
import { BatchNorm2d, Linear, Sequential } from '../../src/nn/layers.js';
import { WeightAverage } from '../../src/training/weight-average.js';

const net = () => new Sequential(new Linear(2, 1), new BatchNorm2d(1));
const fill = (m: Sequential, value: number) => noGrad(() => m.parameters().forEach((p) => p.fill_(value)));

describe('WeightAverage', () => {
  it('starts at the live weights, then follows them with the warmed-up decay', () => {
    const live = net();
    fill(live, 1);
    const average = new WeightAverage(net(), live, 0.5);
    expect(average.average.parameters()[0]!.toArray()).toEqual([1, 1]);
    fill(live, 3);
    average.update(); // decay min(0.5, 2/11)
    const first = (2 / 11) * 1 + (9 / 11) * 3;
    expect(average.average.parameters()[0]!.toArray()[0]).toBeCloseTo(first, 6);
    average.update(); // decay min(0.5, 3/12)
    const second = 0.25 * first + 0.75 * 3;
    expect(average.average.parameters()[1]!.toArray()[0]).toBeCloseTo(second, 6);
    for (let i = 0; i < 20; i++) average.update(); // from the 8th update on the decay is 0.5
    expect(average.updates).toBe(22);
    expect(average.average.parameters()[0]!.toArray()[0]).toBeCloseTo(3, 4);
    // The live model is untouched.
    expect(live.parameters()[0]!.toArray()).toEqual([3, 3]);
  });

  it('averages batch-norm statistics and copies the batch counter', () => {
    const live = net();
    const average = new WeightAverage(net(), live, 0.99);
    const [mean, , count] = live.buffers();
    noGrad(() => {
      mean!.fill_(5);
      count!.fill_(7);
    });
    average.update(); // decay 2/11 of the starting mean, 0
    const [averageMean, , averageCount] = average.average.buffers();
    expect(averageMean!.toArray()[0]).toBeCloseTo((9 / 11) * 5, 6);
    expect(averageCount!.toArray()).toEqual([7]);
  });

  it('refuses a decay outside [0, 1)', () => {
    expect(() => new WeightAverage(net(), net(), 1)).toThrow(/decay must be in \[0, 1\); got 1/);
    expect(() => new WeightAverage(net(), net(), -0.1)).toThrow(RangeError);
  });
});
