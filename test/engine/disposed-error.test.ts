// ERR_DISPOSED names the operation that used a freed tensor, and the tensor as far as it is known.
import { describe, expect, it } from 'vitest';
import { cat, ones, tensor, tidy } from '../../src/engine/index.js';
import * as F from '../../src/nn/functional.js';

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect((error as { code?: string }).code).toBe('ERR_DISPOSED');
    return (error as Error).message;
  }
  throw new Error('expected ERR_DISPOSED');
}

describe('a disposed tensor', () => {
  it('names the method, function or property that used it', () => {
    const t = ones([2, 3]);
    t.dispose();
    expect(messageOf(() => t.add(1))).toMatch(/^add\(\): a tensor/);
    expect(messageOf(() => t.toArray())).toMatch(/^toArray\(\): /);
    expect(messageOf(() => cat([t, t]))).toMatch(/^cat\(\): /);
    expect(messageOf(() => t.shape)).toMatch(/^shape\(\): /);
    expect(messageOf(() => F.crossEntropy(t, tensor([0, 1])))).toMatch(/^crossEntropy\(\): /);
  });

  it('gives its dtype and shape when they were read before, and says how to keep it', () => {
    const kept = tidy(() => {
      const inside = ones([4, 5]);
      expect(inside.shape).toEqual([4, 5]);
      expect(inside.dtype).toBe('float32');
      return { inside, other: ones([5, 2]) };
    });
    kept.inside.dispose();
    expect(messageOf(() => kept.inside.matmul(kept.other))).toBe(
      'matmul(): a float32 tensor [4, 5] was used after it was disposed, by dispose() or at the end of the tidy() ' +
        'that made it; return it from the tidy() (or keep() it) to use it afterwards',
    );
    let leaked = ones([1]);
    tidy(() => {
      leaked = ones([3]);
    });
    expect(messageOf(() => leaked.sum())).toMatch(/^sum\(\): a tensor was used after it was disposed/);
  });
});
