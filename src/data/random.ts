// Rng: the seeded random number generator behind every sampler, split and augmentation, with a
// JSON state so that an interrupted training run resumes on exactly the same batches.
import { ArgumentError } from '../errors.js';

/** The complete state of an {@link Rng}: plain JSON, safe to store in a checkpoint. */
export interface RngState {
  algorithm: 'sfc32';
  /** The four 32-bit words of sfc32, as unsigned integers. */
  words: [number, number, number, number];
  /** The second value of the last Box-Muller pair, not yet returned by normal(). */
  spareNormal: number | null;
}

const TWO_POW_32 = 4294967296;

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * A small, fast, seeded PRNG: sfc32 (Chris Doty-Humphrey's "small fast chaotic" generator,
 * which passes PractRand), seeded through splitmix32 so that nearby seeds give unrelated streams.
 * Data code never uses Math.random: every draw comes from an Rng whose state can be saved.
 *
 * @example
 * const rng = new Rng(42);
 * rng.int(10); // 0..9
 * const saved = rng.getState(); // later: new Rng(0).setState(saved) continues the same stream
 */
export class Rng {
  #a = 0;
  #b = 0;
  #c = 0;
  #d = 0;
  #spare: number | null = null;

  /** @param seed any safe integer (its low 53 bits are used) */
  constructor(seed = 0) {
    if (!Number.isSafeInteger(seed)) throw new ArgumentError(`Rng: seed must be a safe integer; got ${seed}`);
    const low = splitmix32(seed >>> 0);
    const high = splitmix32(Math.floor(seed / TWO_POW_32) ^ 0x5bd1e995);
    this.#a = low();
    this.#b = high();
    this.#c = low() ^ high();
    this.#d = 1;
    // sfc32's counter starts at 1; a few rounds mix the seed through all four words.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** A generator restored from a saved state. */
  static fromState(state: RngState): Rng {
    return new Rng(0).setState(state);
  }

  /** Uniform 32-bit unsigned integer. */
  uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1), with 53 random bits. */
  next(): number {
    const high = this.uint32() >>> 5; // 27 bits
    const low = this.uint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** Uniform in [low, high). */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new ArgumentError(`Rng.int(n): n must be an integer in [1, 2^32]; got ${n}`);
    }
    // Rejection sampling: drop the top partial copy of [0, n) in [0, 2^32).
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.uint32();
    while (x >= limit) x = this.uint32();
    return x % n;
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal sample (Box-Muller; the pair's second value is kept for the next call). */
  normal(mean = 0, std = 1): number {
    if (this.#spare !== null) {
      const value = this.#spare;
      this.#spare = null;
      return mean + std * value;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.#spare = radius * Math.sin(2 * Math.PI * v);
    return mean + std * radius * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [index: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const swap = array[i];
      array[i] = array[j];
      array[j] = swap;
    }
    return array;
  }

  /** One element of a non-empty array, uniformly. */
  choice<T>(array: ArrayLike<T>): T {
    if (array.length === 0) throw new ArgumentError('Rng.choice(): the array is empty');
    return array[this.int(array.length)]!;
  }

  /**
   * `k` distinct integers from [0, n), in random order.
   * @throws ArgumentError when k > n
   */
  sample(k: number, n: number): Int32Array {
    if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || k > n) {
      throw new ArgumentError(`Rng.sample(k, n): need integers 0 <= k <= n; got k = ${k}, n = ${n}`);
    }
    const out = new Int32Array(k);
    if (k * 4 >= n) {
      // Dense: a partial Fisher-Yates over 0..n-1.
      const pool = new Int32Array(n);
      for (let i = 0; i < n; i++) pool[i] = i;
      for (let i = 0; i < k; i++) {
        const j = i + this.int(n - i);
        const swap = pool[i]!;
        pool[i] = pool[j]!;
        pool[j] = swap;
        out[i] = pool[i]!;
      }
      return out;
    }
    // Sparse: rejection against a set; expected draws < 4k/3 since k < n/4.
    const seen = new Set<number>();
    for (let i = 0; i < k; i++) {
      let x = this.int(n);
      while (seen.has(x)) x = this.int(n);
      seen.add(x);
      out[i] = x;
    }
    return out;
  }

  /** `k` distinct elements of `array`, in random order. */
  sampleFrom<T>(array: ArrayLike<T>, k: number): T[] {
    return Array.from(this.sample(k, array.length), (i) => array[i]!);
  }

  /** A new generator seeded from this one: an independent stream, e.g. one per worker or component. */
  fork(): Rng {
    return new Rng(this.uint32() * 2097152 + (this.uint32() >>> 11));
  }

  getState(): RngState {
    return {
      algorithm: 'sfc32',
      words: [this.#a >>> 0, this.#b >>> 0, this.#c >>> 0, this.#d >>> 0],
      spareNormal: this.#spare,
    };
  }

  /** Restores a state from {@link getState}; returns `this`. */
  setState(state: RngState): this {
    const words = state?.words;
    if (
      state?.algorithm !== 'sfc32' ||
      !Array.isArray(words) ||
      words.length !== 4 ||
      !words.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)
    ) {
      throw new ArgumentError(
        `Rng.setState(): expected { algorithm: 'sfc32', words: [4 uint32] }; got ${JSON.stringify(state)}`,
      );
    }
    [this.#a, this.#b, this.#c, this.#d] = words.map((w) => w | 0) as [number, number, number, number];
    this.#spare = typeof state.spareNormal === 'number' ? state.spareNormal : null;
    return this;
  }
}

/** Accepts a seed or an existing generator (shared streams); a number makes a new Rng. */
export function toRng(seedOrRng: number | Rng | undefined, fallbackSeed = 0): Rng {
  if (seedOrRng instanceof Rng) return seedOrRng;
  return new Rng(seedOrRng ?? fallbackSeed);
}
