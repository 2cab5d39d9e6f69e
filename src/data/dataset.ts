// ImageSet: a labelled image collection held as one compact uint8 tensor, with the class, group
// (alphabet) and drawer of every image, and the selections samplers and splits are built from.
import { TwinshotError, ArgumentError } from '../errors.js';
import { cat, tensor, type Device, type Tensor } from '../engine/tensor.js';
import { keep, tidy } from '../engine/scope.js';
import { samePreprocessing, type Preprocessing } from './image.js';

/** A file that was left out of a set because it could not be read or decoded. */
export interface SkippedFile {
  path: string;
  reason: string;
}

export interface ImageSetInit {
  /** uint8 [N, 1, S, S]; the set takes ownership (keeps it alive, frees it on dispose()). */
  pixels: Tensor;
  labels: Int32Array;
  classNames: readonly string[];
  classGroup: Int32Array;
  groupNames: readonly string[];
  /** Drawer (writer) of each image, 0-based (Omniglot's `_01` is 0); -1 where unknown. Default: all -1. */
  drawers?: Int32Array;
  paths: readonly string[];
  preprocessing: Preprocessing;
  /** Where the set came from, for messages (a zip, a folder, a manifest). */
  source?: string;
  skipped?: readonly SkippedFile[];
}

function datasetError(message: string): TwinshotError {
  return new TwinshotError('ERR_DATASET', message);
}

/** Start offsets and members of each bucket, from a bucket index per item (compressed rows). */
function buckets(of: Int32Array, count: number): { offsets: Int32Array; members: Int32Array } {
  const offsets = new Int32Array(count + 1);
  for (const b of of) offsets[b + 1]!++;
  for (let i = 0; i < count; i++) offsets[i + 1]! += offsets[i]!;
  const fill = offsets.slice(0, count);
  const members = new Int32Array(of.length);
  for (let i = 0; i < of.length; i++) members[fill[of[i]!]!++] = i;
  return { offsets, members };
}

/**
 * Images with labels, kept as one uint8 tensor `pixels` [N, 1, S, S] (ink bright when
 * `preprocessing.invert`), so that 32,460 Omniglot images at 105x105 take 358 MB, and at 28x28 25 MB.
 * Every class has at least one image and every group at least one class: selections drop and
 * renumber the classes and groups they leave empty, keeping their order.
 *
 * @example
 * const set = await loadOmniglot({ size: 28 });
 * const x = tidy(() => set.batch(set.imagesOfClass(0))); // float32 [20, 1, 28, 28] in [0, 1]
 */
export class ImageSet {
  readonly pixels: Tensor;
  readonly labels: Int32Array;
  readonly classNames: readonly string[];
  readonly classGroup: Int32Array;
  readonly groupNames: readonly string[];
  readonly drawers: Int32Array;
  readonly paths: readonly string[];
  readonly preprocessing: Preprocessing;
  readonly source: string;
  readonly skipped: readonly SkippedFile[];
  readonly #byClass: { offsets: Int32Array; members: Int32Array };
  readonly #byGroup: { offsets: Int32Array; members: Int32Array };

  /** @throws TwinshotError ERR_DATASET when the parts disagree or a class or group is empty */
  constructor(init: ImageSetInit) {
    const n = init.labels.length;
    const size = init.preprocessing.size;
    const shape = init.pixels.shape;
    if (
      init.pixels.dtype !== 'uint8' ||
      shape.length !== 4 ||
      shape[0] !== n ||
      shape[1] !== 1 ||
      shape[2] !== size ||
      shape[3] !== size
    ) {
      throw new ArgumentError(
        `ImageSet: pixels must be uint8 [${n}, 1, ${size}, ${size}]; got ${init.pixels.dtype} [${shape.join(', ')}]`,
      );
    }
    const drawers = init.drawers ?? new Int32Array(n).fill(-1);
    if (init.paths.length !== n || drawers.length !== n) {
      throw new ArgumentError(
        `ImageSet: labels (${n}), paths (${init.paths.length}) and drawers (${drawers.length}) must have one entry per image`,
      );
    }
    if (init.classGroup.length !== init.classNames.length) {
      throw new ArgumentError(
        `ImageSet: classGroup has ${init.classGroup.length} entries for ${init.classNames.length} classes`,
      );
    }
    const classes = init.classNames.length;
    const groups = init.groupNames.length;
    for (const label of init.labels) {
      if (!(label >= 0 && label < classes))
        throw new ArgumentError(`ImageSet: label ${label} is outside [0, ${classes})`);
    }
    for (const group of init.classGroup) {
      if (!(group >= 0 && group < groups))
        throw new ArgumentError(`ImageSet: group ${group} is outside [0, ${groups})`);
    }
    this.pixels = keep(init.pixels);
    this.labels = init.labels;
    this.classNames = init.classNames;
    this.classGroup = init.classGroup;
    this.groupNames = init.groupNames;
    this.drawers = drawers;
    this.paths = init.paths;
    this.preprocessing = { ...init.preprocessing };
    this.source = init.source ?? '(in memory)';
    this.skipped = init.skipped ?? [];
    this.#byClass = buckets(this.labels, classes);
    this.#byGroup = buckets(this.classGroup, groups);
    for (let c = 0; c < classes; c++) {
      if (this.#byClass.offsets[c] === this.#byClass.offsets[c + 1]) {
        throw datasetError(
          `class '${init.classNames[c]}' in ${this.source} has no images; add images to it or remove it`,
        );
      }
    }
    for (let g = 0; g < groups; g++) {
      if (this.#byGroup.offsets[g] === this.#byGroup.offsets[g + 1]) {
        throw datasetError(`group '${init.groupNames[g]}' in ${this.source} has no classes`);
      }
    }
  }

  /** Number of images. */
  get size(): number {
    return this.labels.length;
  }
  get numClasses(): number {
    return this.classNames.length;
  }
  get numGroups(): number {
    return this.groupNames.length;
  }
  /** Side of every image, in pixels. */
  get imageSize(): number {
    return this.preprocessing.size;
  }

  /** Indices of the images of class `c`, in order (a view: do not modify). */
  imagesOfClass(c: number): Int32Array {
    this.#checkIndex(c, this.numClasses, 'class');
    return this.#byClass.members.subarray(this.#byClass.offsets[c], this.#byClass.offsets[c + 1]);
  }
  /** Number of images of class `c`. */
  countOfClass(c: number): number {
    this.#checkIndex(c, this.numClasses, 'class');
    return this.#byClass.offsets[c + 1]! - this.#byClass.offsets[c]!;
  }
  /** Indices of the classes in group `g`, in order (a view: do not modify). */
  classesOfGroup(g: number): Int32Array {
    this.#checkIndex(g, this.numGroups, 'group');
    return this.#byGroup.members.subarray(this.#byGroup.offsets[g], this.#byGroup.offsets[g + 1]);
  }
  /** Group index of image `i`. */
  groupOfImage(i: number): number {
    return this.classGroup[this.labels[i]!]!;
  }
  /** Class index by name, or -1. */
  classIndex(name: string): number {
    return this.classNames.indexOf(name);
  }
  /** Group index by name, or -1. */
  groupIndex(name: string): number {
    return this.groupNames.indexOf(name);
  }
  /** The distinct drawers present, ascending (empty when unknown). */
  drawerIds(): number[] {
    return [...new Set(this.drawers)].filter((d) => d >= 0).sort((a, b) => a - b);
  }

  #checkIndex(value: number, count: number, what: string): void {
    if (!Number.isInteger(value) || value < 0 || value >= count) {
      throw new ArgumentError(`ImageSet: ${what} ${value} is outside [0, ${count})`);
    }
  }

  #indexTensor(indices: ArrayLike<number>): Tensor {
    const index = Int32Array.from(indices as ArrayLike<number>);
    for (const i of index) {
      if (!(i >= 0 && i < this.size))
        throw new ArgumentError(`ImageSet: image index ${i} is outside [0, ${this.size})`);
    }
    const cpu = tensor(index, { dtype: 'int64' });
    const device = this.pixels.device;
    if (device === 'cpu') return cpu;
    return cpu.to({ device: device as Device });
  }

  /**
   * The images at `indices` as float32 [B, 1, S, S] in [0, 1], on the pixels' device.
   * @throws ArgumentError for an index outside the set
   */
  batch(indices: ArrayLike<number>): Tensor {
    return tidy(() => this.pixels.indexSelect(0, this.#indexTensor(indices)).float().div_(255));
  }

  /** The images at `indices` as uint8 [B, 1, S, S] (a copy). */
  images(indices: ArrayLike<number>): Tensor {
    return tidy(() => this.pixels.indexSelect(0, this.#indexTensor(indices)));
  }

  /** Row-major uint8 pixels of image `i` (S * S values). */
  imageData(i: number): Uint8Array {
    return tidy(() => this.pixels.select(0, i).data() as Uint8Array);
  }

  /**
   * A new set holding the images at `imageIndices`, in that order (pixels are copied).
   * Classes and groups left without images are dropped; the others keep their order.
   */
  subset(imageIndices: ArrayLike<number>): ImageSet {
    const picked = Int32Array.from(imageIndices as ArrayLike<number>);
    if (picked.length === 0) throw datasetError(`subset of ${this.source} is empty: no images were selected`);
    const classMap = new Int32Array(this.numClasses).fill(-1);
    for (const i of picked) {
      if (!(i >= 0 && i < this.size))
        throw new ArgumentError(`ImageSet.subset(): image index ${i} is outside [0, ${this.size})`);
      classMap[this.labels[i]!] = 0;
    }
    const keptClasses: number[] = [];
    for (let c = 0; c < this.numClasses; c++) if (classMap[c] === 0) classMap[c] = keptClasses.push(c) - 1;
    const groupMap = new Int32Array(this.numGroups).fill(-1);
    for (const c of keptClasses) groupMap[this.classGroup[c]!] = 0;
    const keptGroups: number[] = [];
    for (let g = 0; g < this.numGroups; g++) if (groupMap[g] === 0) groupMap[g] = keptGroups.push(g) - 1;
    return new ImageSet({
      pixels: this.images(picked),
      labels: picked.map((i) => classMap[this.labels[i]!]!),
      classNames: keptClasses.map((c) => this.classNames[c]!),
      classGroup: Int32Array.from(keptClasses, (c) => groupMap[this.classGroup[c]!]!),
      groupNames: keptGroups.map((g) => this.groupNames[g]!),
      drawers: picked.map((i) => this.drawers[i]!),
      paths: Array.from(picked, (i) => this.paths[i]!),
      preprocessing: this.preprocessing,
      source: this.source,
      skipped: this.skipped,
    });
  }

  /** A new set with every image of the given classes (classes keep this set's order). */
  selectClasses(classIndices: ArrayLike<number>): ImageSet {
    const picked: number[] = [];
    const seen = new Set<number>();
    for (const c of Array.from(classIndices)) {
      this.#checkIndex(c, this.numClasses, 'class');
      if (seen.has(c)) continue;
      seen.add(c);
      for (const i of this.imagesOfClass(c)) picked.push(i);
    }
    return this.subset(picked);
  }

  /** A new set with every class of the given groups. */
  selectGroups(groupIndices: ArrayLike<number>): ImageSet {
    const classes: number[] = [];
    for (const g of Array.from(groupIndices)) classes.push(...this.classesOfGroup(g));
    return this.selectClasses(classes);
  }

  /** A new set with the images whose drawer is in `drawers`. */
  selectDrawers(drawers: Iterable<number>): ImageSet {
    const wanted = new Set(drawers);
    const picked: number[] = [];
    for (let i = 0; i < this.size; i++) if (wanted.has(this.drawers[i]!)) picked.push(i);
    if (picked.length === 0) throw datasetError(`no image of ${this.source} has drawer ${[...wanted].join(', ')}`);
    return this.subset(picked);
  }

  /** This set without the classes that have fewer than `min` images (or this set, when none do). */
  withMinImages(min: number): ImageSet {
    const keep: number[] = [];
    for (let c = 0; c < this.numClasses; c++) if (this.countOfClass(c) >= min) keep.push(c);
    if (keep.length === this.numClasses) return this;
    if (keep.length === 0) throw datasetError(`no class of ${this.source} has ${min} or more images`);
    return this.selectClasses(keep);
  }

  /** A copy with its pixels on `device` (uint8 stays compact on a GPU: Omniglot at 28x28 is 25 MB). */
  to(device: Device): ImageSet {
    return new ImageSet({ ...this.#init(), pixels: this.pixels.to({ device }) });
  }

  #init(): ImageSetInit {
    return {
      pixels: this.pixels,
      labels: this.labels,
      classNames: this.classNames,
      classGroup: this.classGroup,
      groupNames: this.groupNames,
      drawers: this.drawers,
      paths: this.paths,
      preprocessing: this.preprocessing,
      source: this.source,
      skipped: this.skipped,
    };
  }

  /** Counts for logs: images, classes, groups, image size. */
  summary(): { images: number; classes: number; groups: number; size: number; source: string } {
    return {
      images: this.size,
      classes: this.numClasses,
      groups: this.numGroups,
      size: this.imageSize,
      source: this.source,
    };
  }

  toString(): string {
    const s = this.summary();
    return `ImageSet(${s.images} images, ${s.classes} classes, ${s.groups} groups, ${s.size}x${s.size}, from ${s.source})`;
  }

  /** Frees the pixels now (selections made from this set have their own copies). */
  dispose(): void {
    this.pixels.dispose();
  }
}

/**
 * Joins sets with the same preprocessing into one; classes and groups are kept apart even when
 * names repeat (a group name seen in two sets gets the set's source appended).
 * @throws TwinshotError ERR_DATASET when sizes or inversion differ
 */
export function concatImageSets(sets: readonly ImageSet[]): ImageSet {
  if (sets.length === 0) throw new ArgumentError('concatImageSets(): give at least one set');
  const first = sets[0]!;
  for (const set of sets) {
    if (!samePreprocessing(set.preprocessing, first.preprocessing)) {
      throw datasetError(
        `cannot join ${set.source} (${JSON.stringify(set.preprocessing)}) with ${first.source} (${JSON.stringify(first.preprocessing)}): load both with the same size, invert and frame`,
      );
    }
  }
  const labels: number[] = [];
  const classNames: string[] = [];
  const classGroup: number[] = [];
  const groupNames: string[] = [];
  const drawers: number[] = [];
  const paths: string[] = [];
  const skipped: SkippedFile[] = [];
  const usedGroups = new Set<string>();
  for (const set of sets) {
    const classOffset = classNames.length;
    const groupOffset = groupNames.length;
    for (const name of set.groupNames) {
      const unique = usedGroups.has(name) ? `${name} (${set.source})` : name;
      usedGroups.add(unique);
      groupNames.push(unique);
    }
    classNames.push(...set.classNames);
    for (const g of set.classGroup) classGroup.push(g + groupOffset);
    for (const l of set.labels) labels.push(l + classOffset);
    drawers.push(...set.drawers);
    paths.push(...set.paths);
    skipped.push(...set.skipped);
  }
  return new ImageSet({
    pixels: cat(sets.map((s) => s.pixels)),
    labels: Int32Array.from(labels),
    classNames,
    classGroup: Int32Array.from(classGroup),
    groupNames,
    drawers: Int32Array.from(drawers),
    paths,
    preprocessing: first.preprocessing,
    source: sets.map((s) => s.source).join(' + '),
    skipped,
  });
}
