// Seeded splits of an ImageSet: by class, by group (carving validation alphabets out of Omniglot's
// background set), and Koch et al.'s split by drawer. The same seed always gives the same split.
import { TwinshotError } from '../errors.js';
import type { ImageSet } from './dataset.js';
import { Rng } from './random.js';

/**
 * How to divide items between named parts: fractions summing to 1 (`{ train: 0.8, validation: 0.2 }`)
 * or whole counts summing to the number of items (`{ train: 20, validation: 10 }`).
 */
export type SplitSizes = Record<string, number>;

function splitError(message: string): TwinshotError {
  return new TwinshotError('ERR_DATASET', message);
}

/** Converts SplitSizes to counts that sum to `n` (largest remainder for fractions). */
export function splitCounts(sizes: SplitSizes, n: number, what = 'items'): Record<string, number> {
  const names = Object.keys(sizes);
  const values = names.map((k) => sizes[k]!);
  if (names.length === 0)
    throw new TwinshotError('ERR_ARGUMENT', 'split: give at least one part, e.g. { train: 0.8, validation: 0.2 }');
  if (values.some((v) => !Number.isFinite(v) || v < 0)) {
    throw new TwinshotError('ERR_ARGUMENT', `split: sizes must be numbers >= 0; got ${JSON.stringify(sizes)}`);
  }
  const total = values.reduce((a, b) => a + b, 0);
  const isCounts = values.every(Number.isInteger) && total > 1;
  let counts: number[];
  if (isCounts) {
    if (total !== n)
      throw splitError(`split: the counts ${JSON.stringify(sizes)} add up to ${total}, but there are ${n} ${what}`);
    counts = values;
  } else {
    if (Math.abs(total - 1) > 1e-9)
      throw new TwinshotError(
        'ERR_ARGUMENT',
        `split: fractions must add up to 1; ${JSON.stringify(sizes)} add up to ${total}`,
      );
    const exact = values.map((v) => v * n);
    counts = exact.map(Math.floor);
    let left = n - counts.reduce((a, b) => a + b, 0);
    const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [, i] of order) {
      if (left === 0) break;
      counts[i]!++;
      left--;
    }
  }
  names.forEach((name, i) => {
    if (counts[i] === 0 && values[i]! > 0) {
      throw splitError(
        `split: part '${name}' (${values[i]}) would get none of the ${n} ${what}; use fewer parts or a larger share`,
      );
    }
  });
  return Object.fromEntries(names.map((name, i) => [name, counts[i]!]));
}

/** Shuffles 0..n-1 with `seed` and cuts it into parts of the given sizes. */
export function splitIndices(n: number, sizes: SplitSizes, seed: number, what = 'items'): Record<string, Int32Array> {
  const counts = splitCounts(sizes, n, what);
  const order = new Rng(seed).shuffle(Int32Array.from({ length: n }, (_, i) => i));
  const out: Record<string, Int32Array> = {};
  let at = 0;
  for (const [name, count] of Object.entries(counts)) {
    // Sorted within a part so a part's order does not depend on the seed, only its membership.
    out[name] = order.slice(at, at + count).sort();
    at += count;
  }
  return out;
}

function buildParts(
  parts: Record<string, Int32Array>,
  select: (indices: Int32Array) => ImageSet,
): Record<string, ImageSet> {
  const out: Record<string, ImageSet> = {};
  for (const [name, indices] of Object.entries(parts)) if (indices.length > 0) out[name] = select(indices);
  return out;
}

/**
 * Splits by class: every class lands in exactly one part, with all its images.
 * Parts that get no class (a share of 0) are left out of the result.
 * @example const { train, validation } = splitByClass(set, { train: 0.8, validation: 0.2 }, { seed: 1 });
 * @throws TwinshotError ERR_DATASET when a part with a share would get no class
 */
export function splitByClass(
  set: ImageSet,
  sizes: SplitSizes,
  options: { seed?: number } = {},
): Record<string, ImageSet> {
  const parts = splitIndices(set.numClasses, sizes, options.seed ?? 0, 'classes');
  return buildParts(parts, (classes) => set.selectClasses(classes));
}

/**
 * Splits by group (alphabet): every group lands in one part, with all its classes and images.
 * Carving validation alphabets out of Omniglot's 30 background alphabets:
 * @example const { train, validation } = splitByGroup(background, { train: 24, validation: 6 }, { seed: 1 });
 * @throws TwinshotError ERR_DATASET when a part with a share would get no group
 */
export function splitByGroup(
  set: ImageSet,
  sizes: SplitSizes,
  options: { seed?: number } = {},
): Record<string, ImageSet> {
  const parts = splitIndices(set.numGroups, sizes, options.seed ?? 0, 'groups');
  return buildParts(parts, (groups) => set.selectGroups(groups));
}

export interface DrawerSplitOptions {
  /** Drawers per part (default 12 / 4 / 4, as in Koch et al. 2015, section 4.1). */
  train?: number;
  validation?: number;
  test?: number;
  seed?: number;
  /** false: take the drawers in order (the first 12 train, ...); default true: shuffle with `seed`. */
  shuffle?: boolean;
}

/**
 * Koch et al.'s split by drawer: every class appears in every part, drawn by different people.
 * Drawers are Omniglot's 20 writers (`_01` ... `_20`); sets without drawer information cannot be split so.
 * @throws TwinshotError ERR_DATASET when the set has fewer drawers than the parts need
 */
export function drawerSplit(
  set: ImageSet,
  options: DrawerSplitOptions = {},
): { train: ImageSet; validation: ImageSet; test: ImageSet } {
  const sizes = { train: options.train ?? 12, validation: options.validation ?? 4, test: options.test ?? 4 };
  const drawers = set.drawerIds();
  const needed = sizes.train + sizes.validation + sizes.test;
  if (drawers.length === 0) {
    throw splitError(
      `${set.source} has no drawer information (Omniglot file names carry it: NNNN_DD.png); split it by class or group instead`,
    );
  }
  if (drawers.length < needed) {
    throw splitError(
      `drawerSplit needs ${needed} drawers (${sizes.train} + ${sizes.validation} + ${sizes.test}); ${set.source} has ${drawers.length}`,
    );
  }
  const order = options.shuffle === false ? drawers : new Rng(options.seed ?? 0).shuffle([...drawers]);
  const take = (from: number, count: number): number[] => order.slice(from, from + count).sort((a, b) => a - b);
  return {
    train: set.selectDrawers(take(0, sizes.train)),
    validation: set.selectDrawers(take(sizes.train, sizes.validation)),
    test: set.selectDrawers(take(sizes.train + sizes.validation, sizes.test)),
  };
}
