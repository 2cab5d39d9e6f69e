// Numeric assertions shared by the tests.
import { expect } from 'vitest';
import type { Tensor } from '../../src/engine/tensor.js';

/** Asserts same shape and |a - b| <= atol + rtol * |b| everywhere. */
export function expectClose(
  actual: Tensor,
  expected: Tensor | number[],
  options: { atol?: number; rtol?: number } = {},
): void {
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-4;
  const want = Array.isArray(expected) ? expected : expected.toArray();
  if (!Array.isArray(expected)) expect([...actual.shape]).toEqual([...expected.shape]);
  const got = actual.toArray();
  expect(got.length).toBe(want.length);
  let worst = 0;
  let where = -1;
  for (let i = 0; i < got.length; i++) {
    const excess = Math.abs(got[i]! - want[i]!) - (atol + rtol * Math.abs(want[i]!));
    if (!(excess <= worst)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      where = i;
    }
  }
  if (where >= 0) {
    expect.fail(`element ${where}: got ${got[where]}, expected ${want[where]} (atol ${atol}, rtol ${rtol})`);
  }
}
