// Seeded, resumable batch samplers over an ImageSet: Koch et al.'s balanced same/different pairs,
// P x K batches for in-batch mining (FaceNet), and N-way K-shot episodes. One-shot test tasks are
// in one-shot.ts.
import { ArgumentError, TwinshotError } from '../errors.js';
import type { ImageSet } from './dataset.js';
import { Rng, type RngState } from './random.js';

/** A sampler's complete state: plain JSON for checkpoints. */
export interface SamplerState {
  sampler: string;
  rng: RngState;
  /** Batches drawn so far. */
  batches: number;
}

function datasetError(message: string): TwinshotError {
  return new TwinshotError('ERR_DATASET', message);
}

function positiveInteger(name: string, value: number | undefined, fallback?: number): number {
  const v = value ?? fallback;
  if (v === undefined || !Number.isInteger(v) || v < 1)
    throw new ArgumentError(`${name} must be an integer >= 1; got ${value}`);
  return v;
}

/**
 * Throws the "class with too few images" error every sampler shares, naming the first offender.
 */
function requireImagesPerClass(set: ImageSet, needed: number, what: string, classes?: ArrayLike<number>): void {
  const list = classes ?? Int32Array.from({ length: set.numClasses }, (_, c) => c);
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    const count = set.countOfClass(c);
    if (count < needed) {
      throw datasetError(
        `${what} needs ${needed} images per class, but class '${set.classNames[c]}' has ${count} (${set.paths[set.imagesOfClass(c)[0]!]}); ` +
          `drop small classes with set.withMinImages(${needed}) or add images`,
      );
    }
  }
}

/** What every sampler shares: an Rng, a batch counter, and a state that round-trips through JSON. */
abstract class Sampler<T> implements Iterable<T> {
  protected rng: Rng;
  #batches = 0;

  protected constructor(seed: number | undefined) {
    this.rng = new Rng(seed ?? 0);
  }

  /** Draws the next batch. */
  next(): T {
    const batch = this.draw();
    this.#batches++;
    return batch;
  }

  protected abstract draw(): T;

  /** Batches drawn so far. */
  get batches(): number {
    return this.#batches;
  }

  /** An endless iterator over batches (use with a counter or `take`). */
  *[Symbol.iterator](): Iterator<T> {
    for (;;) yield this.next();
  }

  /** The next `count` batches. */
  take(count: number): T[] {
    return Array.from({ length: count }, () => this.next());
  }

  getState(): SamplerState {
    return { sampler: this.constructor.name, rng: this.rng.getState(), batches: this.#batches };
  }

  /** Restores a state from getState(): the following batches are exactly those that followed it. */
  setState(state: SamplerState): this {
    if (state?.sampler !== this.constructor.name) {
      throw new ArgumentError(`${this.constructor.name}.setState(): the state is from ${String(state?.sampler)}`);
    }
    this.rng.setState(state.rng);
    this.#batches = Number.isInteger(state.batches) ? state.batches : 0;
    return this;
  }
}

// ---- pairs -------------------------------------------------------------------------------------

export interface PairBatch {
  /** Image indices of the first image of each pair. */
  left: Int32Array;
  /** Image indices of the second image. */
  right: Int32Array;
  /** 1 for a same-class pair, 0 for a different-class pair (Koch et al.'s target). */
  targets: Float32Array;
}

export interface PairSamplerOptions {
  batchSize: number;
  seed?: number;
  /** Share of same-class pairs (default 0.5: balanced, as in Koch et al. 2015). */
  positiveFraction?: number;
  /** Draw each negative's second class from the first one's group (alphabet): harder pairs. */
  sameGroupNegatives?: boolean;
}

/**
 * Same/different pairs for verification training (Koch et al. 2015, section 3): exactly
 * round(batchSize * positiveFraction) same-class pairs of two distinct images, the rest pairs of
 * two different classes, in shuffled order. Classes are drawn uniformly, then images within them.
 * With `sameGroupNegatives`, a negative pairs two characters of one alphabet, unless the
 * alphabet has a single class (then any other class).
 *
 * @example
 * const pairs = new PairSampler(set, { batchSize: 128, seed: 1 });
 * const { left, right, targets } = pairs.next();
 * @throws TwinshotError ERR_DATASET when a class has one image or the set has one class
 */
export class PairSampler extends Sampler<PairBatch> {
  readonly set: ImageSet;
  readonly batchSize: number;
  readonly positives: number;
  readonly sameGroupNegatives: boolean;

  constructor(set: ImageSet, options: PairSamplerOptions) {
    super(options.seed);
    this.set = set;
    this.batchSize = positiveInteger('PairSampler: batchSize', options.batchSize);
    const fraction = options.positiveFraction ?? 0.5;
    if (!(fraction >= 0 && fraction <= 1))
      throw new ArgumentError(`PairSampler: positiveFraction must be in [0, 1]; got ${fraction}`);
    this.positives = Math.round(this.batchSize * fraction);
    this.sameGroupNegatives = options.sameGroupNegatives ?? false;
    if (this.positives > 0) requireImagesPerClass(set, 2, 'PairSampler (same-class pairs)');
    if (this.positives < this.batchSize && set.numClasses < 2) {
      throw datasetError(
        `PairSampler: different-class pairs need at least 2 classes; ${set.source} has ${set.numClasses}`,
      );
    }
  }

  protected draw(): PairBatch {
    const { set, rng } = this;
    const n = this.batchSize;
    const left = new Int32Array(n);
    const right = new Int32Array(n);
    const targets = new Float32Array(n);
    const order = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
    for (let k = 0; k < n; k++) {
      const slot = order[k]!;
      if (k < this.positives) {
        const images = set.imagesOfClass(rng.int(set.numClasses));
        const [a, b] = rng.sample(2, images.length);
        left[slot] = images[a!]!;
        right[slot] = images[b!]!;
        targets[slot] = 1;
      } else {
        const first = rng.int(set.numClasses);
        const second = this.#otherClass(first);
        left[slot] = rng.choice(set.imagesOfClass(first));
        right[slot] = rng.choice(set.imagesOfClass(second));
        targets[slot] = 0;
      }
    }
    return { left, right, targets };
  }

  #otherClass(first: number): number {
    const { set, rng } = this;
    if (this.sameGroupNegatives) {
      const siblings = set.classesOfGroup(set.classGroup[first]!);
      if (siblings.length > 1) {
        // Skip `first` without a rejection loop: picks at or after its position shift by one.
        const pick = rng.int(siblings.length - 1);
        return pick >= siblings.indexOf(first) ? siblings[pick + 1]! : siblings[pick]!;
      }
    }
    const pick = rng.int(set.numClasses - 1);
    return pick >= first ? pick + 1 : pick;
  }
}

// ---- P x K -------------------------------------------------------------------------------------

export interface PKBatch {
  /** P * K image indices, class by class. */
  indices: Int32Array;
  /** The set's class of each image (for in-batch mining). */
  labels: Int32Array;
}

export interface PKSamplerOptions {
  /** Classes per batch. */
  p: number;
  /** Images per class. */
  k: number;
  seed?: number;
}

/**
 * P distinct classes, K distinct images each: batches with several positives per anchor, for
 * batch-all, batch-hard and semi-hard mining (Schroff et al. 2015; Hermans et al. 2017).
 * @example const pk = new PKSampler(set, { p: 32, k: 4, seed: 1 }); // 128 images a batch
 * @throws TwinshotError ERR_DATASET when the set has fewer than P classes, or a class fewer than K images
 */
export class PKSampler extends Sampler<PKBatch> {
  readonly set: ImageSet;
  readonly p: number;
  readonly k: number;

  constructor(set: ImageSet, options: PKSamplerOptions) {
    super(options.seed);
    this.set = set;
    this.p = positiveInteger('PKSampler: p', options.p);
    this.k = positiveInteger('PKSampler: k', options.k);
    if (set.numClasses < this.p)
      throw datasetError(`PKSampler: p = ${this.p} classes per batch, but ${set.source} has ${set.numClasses}`);
    requireImagesPerClass(set, this.k, `PKSampler (k = ${this.k})`);
  }

  get batchSize(): number {
    return this.p * this.k;
  }

  protected draw(): PKBatch {
    const { set, rng, p, k } = this;
    const indices = new Int32Array(p * k);
    const labels = new Int32Array(p * k);
    const classes = rng.sample(p, set.numClasses);
    for (let i = 0; i < p; i++) {
      const c = classes[i]!;
      const images = set.imagesOfClass(c);
      const picks = rng.sample(k, images.length);
      for (let j = 0; j < k; j++) {
        indices[i * k + j] = images[picks[j]!]!;
        labels[i * k + j] = c;
      }
    }
    return { indices, labels };
  }
}

// ---- episodes ----------------------------------------------------------------------------------

export interface Episode {
  /** The set's class of each of the N ways. */
  classes: Int32Array;
  /** N * shot image indices, way by way. */
  support: Int32Array;
  /** Way (0..N-1) of each support image. */
  supportLabels: Int32Array;
  /** N * query image indices, way by way. */
  query: Int32Array;
  queryLabels: Int32Array;
  /** The group the classes come from, or -1 when drawn from the whole set. */
  group: number;
}

export interface EpisodeSamplerOptions {
  /** N: classes per episode. */
  way: number;
  /** K: support images per class. */
  shot: number;
  /** Q: query images per class (default 1). */
  query?: number;
  /** Draw all N classes from one group (alphabet), as Lake et al.'s within-alphabet runs do. */
  withinGroup?: boolean;
  seed?: number;
}

/**
 * N-way K-shot episodes with Q queries a class (Vinyals et al. 2016): N distinct classes, and
 * K + Q distinct images of each, so no query is also a support image. With `withinGroup`, a group is
 * drawn uniformly among those with at least N classes, then N of its classes.
 * @throws TwinshotError ERR_DATASET when no group (or the set) has N classes, or a class has fewer than K + Q images
 */
export class EpisodeSampler extends Sampler<Episode> {
  readonly set: ImageSet;
  readonly way: number;
  readonly shot: number;
  readonly query: number;
  readonly withinGroup: boolean;
  readonly #groups: Int32Array;

  constructor(set: ImageSet, options: EpisodeSamplerOptions) {
    super(options.seed);
    this.set = set;
    this.way = positiveInteger('EpisodeSampler: way', options.way);
    this.shot = positiveInteger('EpisodeSampler: shot', options.shot);
    this.query = positiveInteger('EpisodeSampler: query', options.query, 1);
    this.withinGroup = options.withinGroup ?? false;
    requireImagesPerClass(set, this.shot + this.query, `EpisodeSampler (shot ${this.shot} + query ${this.query})`);
    const eligible: number[] = [];
    for (let g = 0; g < set.numGroups; g++) if (set.classesOfGroup(g).length >= this.way) eligible.push(g);
    this.#groups = Int32Array.from(eligible);
    if (this.withinGroup && eligible.length === 0) {
      const largest = Math.max(...Array.from({ length: set.numGroups }, (_, g) => set.classesOfGroup(g).length));
      throw datasetError(
        `EpisodeSampler: ${this.way}-way episodes within a group need a group with ${this.way} classes; the largest in ${set.source} has ${largest}`,
      );
    }
    if (!this.withinGroup && set.numClasses < this.way) {
      throw datasetError(
        `EpisodeSampler: ${this.way}-way episodes need ${this.way} classes; ${set.source} has ${set.numClasses}`,
      );
    }
  }

  /** The groups episodes can come from (those with at least `way` classes). */
  get eligibleGroups(): Int32Array {
    return this.#groups;
  }

  protected draw(): Episode {
    const { set, rng, way, shot, query } = this;
    let group = -1;
    let classes: Int32Array;
    if (this.withinGroup) {
      group = rng.choice(this.#groups);
      const members = set.classesOfGroup(group);
      classes = rng.sample(way, members.length).map((i) => members[i]!);
    } else {
      classes = rng.sample(way, set.numClasses);
    }
    const support = new Int32Array(way * shot);
    const supportLabels = new Int32Array(way * shot);
    const queryIndices = new Int32Array(way * query);
    const queryLabels = new Int32Array(way * query);
    for (let w = 0; w < way; w++) {
      const images = set.imagesOfClass(classes[w]!);
      const picks = rng.sample(shot + query, images.length);
      for (let j = 0; j < shot; j++) {
        support[w * shot + j] = images[picks[j]!]!;
        supportLabels[w * shot + j] = w;
      }
      for (let j = 0; j < query; j++) {
        queryIndices[w * query + j] = images[picks[shot + j]!]!;
        queryLabels[w * query + j] = w;
      }
    }
    return { classes, support, supportLabels, query: queryIndices, queryLabels, group };
  }
}
