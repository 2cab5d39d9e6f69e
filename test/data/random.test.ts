import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/data/random.js';

describe('Rng#next()', () => {
  it('gives the same stream for the same seed and a different one for another seed', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 100 }, () => a.next());
    expect(Array.from({ length: 100 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 100 }, () => c.next())).not.toEqual(xs);
  });

  it('stays in [0, 1) with a mean near 0.5', () => {
    const rng = new Rng(1);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
      sum += x;
    }
    expect(sum / 20000).toBeCloseTo(0.5, 1);
  });

  it('separates seeds that differ above 32 bits', () => {
    expect(new Rng(2 ** 40).next()).not.toBe(new Rng(0).next());
  });
});

describe('Rng#int()', () => {
  it('covers [0, n) evenly', () => {
    const rng = new Rng(7);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 50000; i++) counts[rng.int(10)]++;
    for (const count of counts) expect(Math.abs(count - 5000)).toBeLessThan(350);
  });

  it('rejects n <= 0 and fractions', () => {
    const rng = new Rng(7);
    expect(() => rng.int(0)).toThrow(/n must be an integer/);
    expect(() => rng.int(2.5)).toThrow(/n must be an integer/);
  });
});

describe('Rng#sample()', () => {
  it('returns k distinct values in [0, n), sparse and dense', () => {
    const rng = new Rng(3);
    for (const [k, n] of [
      [5, 1000],
      [900, 1000],
      [10, 10],
      [0, 4],
    ] as const) {
      const s = Array.from(rng.sample(k, n));
      expect(s).toHaveLength(k);
      expect(new Set(s).size).toBe(k);
      expect(s.every((v) => v >= 0 && v < n)).toBe(true);
    }
  });

  it('refuses k > n', () => {
    expect(() => new Rng(0).sample(3, 2)).toThrow(/0 <= k <= n/);
  });
});

describe('Rng#shuffle()', () => {
  it('permutes in place and moves elements', () => {
    const array = Array.from({ length: 50 }, (_, i) => i);
    const shuffled = new Rng(5).shuffle([...array]);
    expect([...shuffled].sort((a, b) => a - b)).toEqual(array);
    expect(shuffled).not.toEqual(array);
  });
});

describe('Rng#normal()', () => {
  it('has mean 0 and standard deviation 1', () => {
    const rng = new Rng(11);
    const xs = Array.from({ length: 20000 }, () => rng.normal());
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });
});

describe('Rng#getState()', () => {
  it('resumes exactly, through JSON, even between the two values of a normal pair', () => {
    const rng = new Rng(9);
    rng.next();
    rng.normal(); // leaves a spare normal in the state
    const saved = JSON.parse(JSON.stringify(rng.getState()));
    const expected = [rng.normal(), rng.next(), rng.int(1000), rng.normal()];
    const resumed = Rng.fromState(saved);
    expect([resumed.normal(), resumed.next(), resumed.int(1000), resumed.normal()]).toEqual(expected);
  });

  it('rejects a state that is not an Rng state', () => {
    expect(() => new Rng(0).setState({ algorithm: 'sfc32', words: [1, 2, 3], spareNormal: null } as never)).toThrow(
      /expected/,
    );
  });
});

describe('Rng#fork()', () => {
  it('gives an independent but reproducible stream', () => {
    const a = new Rng(1).fork();
    const b = new Rng(1).fork();
    expect(a.next()).toBe(b.next());
    expect(new Rng(1).fork().next()).not.toBe(new Rng(1).next());
  });
});
