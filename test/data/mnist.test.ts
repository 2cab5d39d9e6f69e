import { describe, expect, it } from 'vitest';
import { loadMnistDigits } from '../../src/data/mnist.js';

describe('loadMnistDigits()', () => {
  it('loads the digits as ten classes of bright strokes, resized on request', () => {
    const set = loadMnistDigits({ perDigit: 20 });
    expect(set.numClasses).toBe(10);
    expect(set.size).toBe(200);
    expect(set.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const pixels = set.images([0]).toArray();
    expect(pixels[0]).toBe(0); // the corner is background
    expect(Math.max(...pixels)).toBeGreaterThan(200); // strokes are bright
    const small = loadMnistDigits({ perDigit: 2, size: 20 });
    expect(small.pixels.shape).toEqual([20, 1, 20, 20]);
    const dark = loadMnistDigits({ perDigit: 1, invert: false });
    expect(dark.images([0]).toArray()[0]).toBe(255);
  });
});
