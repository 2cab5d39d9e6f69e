// Koch et al.'s random affine distortions, drawn per image with an Rng and applied to a whole
// batch at once on the engine (affineGrid + gridSample); and 90-degree rotations as new classes.
import { ArgumentError } from '../errors.js';
import { cat, tensor, type Device, type Tensor } from '../engine/tensor.js';
import { tidy } from '../engine/scope.js';
import { affineGrid, gridSample, interpolate } from '../nn/functional.js';
import { ImageSet } from './dataset.js';
import type { Rng } from './random.js';

/** The seven components of Koch et al.'s transformation T = f(x; θ, ρx, ρy, sx, sy, tx, ty). */
export type AffineComponent = 'rotation' | 'shearX' | 'shearY' | 'scaleX' | 'scaleY' | 'translateX' | 'translateY';

export const AFFINE_COMPONENTS: readonly AffineComponent[] = [
  'rotation',
  'shearX',
  'shearY',
  'scaleX',
  'scaleY',
  'translateX',
  'translateY',
];

/** One image's distortion; the identity is rotation 0, shears 0, scales 1, translations 0. */
export interface AffineParams {
  /** Degrees, counter-clockwise as seen on screen. */
  rotation: number;
  shearX: number;
  shearY: number;
  scaleX: number;
  scaleY: number;
  /** Pixels of the output image (already scaled to its size). */
  translateX: number;
  translateY: number;
}

export const IDENTITY_AFFINE: Readonly<AffineParams> = Object.freeze({
  rotation: 0,
  shearX: 0,
  shearY: 0,
  scaleX: 1,
  scaleY: 1,
  translateX: 0,
  translateY: 0,
});

export interface RandomAffineOptions {
  /** θ range in degrees (default [-10, 10]). */
  rotation?: readonly [number, number];
  /** ρx and ρy range (default [-0.3, 0.3]). */
  shear?: readonly [number, number];
  /** sx and sy range (default [0.8, 1.2]). */
  scale?: readonly [number, number];
  /** tx and ty range in pixels at `referenceSize` (default [-2, 2]). */
  translate?: readonly [number, number];
  /** Image side the translation range refers to (default 105, Omniglot's); scaled to the batch's size. */
  referenceSize?: number;
  /** Chance that each component is used (default 0.5 for all); a number or one per component. */
  probability?: number | Partial<Record<AffineComponent, number>>;
  /** Value of pixels that come from outside the image (default 0: paper, once ink is inverted to bright). */
  background?: number;
  /** Sampling between pixels (default 'bilinear'). */
  mode?: 'bilinear' | 'nearest';
  /** A smooth random warp on top of the affine map (off by default), see {@link ElasticOptions}. */
  elastic?: ElasticOptions | null;
}

/**
 * Elastic distortion (after Simard et al. 2003): every control point of a coarse grid moves by a
 * random offset, and the offsets are interpolated bilinearly over the image, so strokes bend
 * locally the way two people's drawings of one character differ, which no affine map does.
 */
export interface ElasticOptions {
  /** Largest offset of a control point, in pixels at `referenceSize` (each axis uniform in ±magnitude). */
  magnitude: number;
  /** Control points per side (default 4); fewer gives smoother, larger-scale bends. */
  controlPoints?: number;
  /** Chance that an image is warped (default 0.5). */
  probability?: number;
}

function checkRange(name: string, range: readonly [number, number]): readonly [number, number] {
  if (!Array.isArray(range) || range.length !== 2 || !range.every(Number.isFinite) || range[0] > range[1]) {
    throw new ArgumentError(`RandomAffine: ${name} must be [low, high] with low <= high; got ${JSON.stringify(range)}`);
  }
  return range;
}

/**
 * Koch et al.'s affine distortions (Koch, Zemel & Salakhutdinov 2015, "Siamese Neural Networks
 * for One-shot Image Recognition", section 3.3): θ ∈ [-10°, 10°], ρx, ρy ∈ [-0.3, 0.3],
 * sx, sy ∈ [0.8, 1.2], tx, ty ∈ [-2, 2] pixels, each component used with probability 0.5.
 *
 * The matrix is A = R(θ) · Sh(ρx, ρy) · S(sx, sy) about the image centre, then the translation;
 * the paper does not fix the order, this one keeps the scale and shear ranges as stated.
 *
 * @example
 * const augment = new RandomAffine();
 * const x = tidy(() => augment.apply(set.batch(indices), rng)); // [B, 1, S, S], each image distorted
 */
export class RandomAffine {
  readonly rotation: readonly [number, number];
  readonly shear: readonly [number, number];
  readonly scale: readonly [number, number];
  readonly translate: readonly [number, number];
  readonly referenceSize: number;
  readonly probability: Readonly<Record<AffineComponent, number>>;
  readonly background: number;
  readonly mode: 'bilinear' | 'nearest';
  readonly elastic: Readonly<Required<ElasticOptions>> | null;

  constructor(options: RandomAffineOptions = {}) {
    this.rotation = checkRange('rotation', options.rotation ?? [-10, 10]);
    this.shear = checkRange('shear', options.shear ?? [-0.3, 0.3]);
    this.scale = checkRange('scale', options.scale ?? [0.8, 1.2]);
    this.translate = checkRange('translate', options.translate ?? [-2, 2]);
    if (this.scale[0] <= 0)
      throw new ArgumentError(`RandomAffine: scale must stay above 0; got ${JSON.stringify(this.scale)}`);
    this.referenceSize = options.referenceSize ?? 105;
    if (!(this.referenceSize > 0))
      throw new ArgumentError(`RandomAffine: referenceSize must be > 0; got ${this.referenceSize}`);
    const p = options.probability ?? 0.5;
    const probability = {} as Record<AffineComponent, number>;
    for (const component of AFFINE_COMPONENTS) {
      const value = typeof p === 'number' ? p : (p[component] ?? 0.5);
      if (!(value >= 0 && value <= 1))
        throw new ArgumentError(`RandomAffine: probability of ${component} must be in [0, 1]; got ${value}`);
      probability[component] = value;
    }
    this.probability = probability;
    this.background = options.background ?? 0;
    this.mode = options.mode ?? 'bilinear';
    this.elastic = options.elastic ? checkElastic(options.elastic) : null;
  }

  /** True when no draw can change an image (every probability 0, or every range the identity). */
  get isIdentity(): boolean {
    const off = (c: AffineComponent, range: readonly [number, number], identity: number): boolean =>
      this.probability[c] === 0 || (range[0] === identity && range[1] === identity);
    return (
      off('rotation', this.rotation, 0) &&
      off('shearX', this.shear, 0) &&
      off('shearY', this.shear, 0) &&
      off('scaleX', this.scale, 1) &&
      off('scaleY', this.scale, 1) &&
      off('translateX', this.translate, 0) &&
      off('translateY', this.translate, 0)
    );
  }

  /**
   * Draws `count` images' parameters for images of side `size`. The draw order is fixed
   * (per image: a coin then a value, component by component), so a seed gives the same batch.
   */
  sample(rng: Rng, count: number, size: number): AffineParams[] {
    const pixels = size / this.referenceSize;
    const draw = (component: AffineComponent, range: readonly [number, number], identity: number): number => {
      const on = rng.next() < this.probability[component];
      const value = rng.uniform(range[0], range[1]);
      return on ? value : identity;
    };
    const out: AffineParams[] = [];
    for (let i = 0; i < count; i++) {
      out.push({
        rotation: draw('rotation', this.rotation, 0),
        shearX: draw('shearX', this.shear, 0),
        shearY: draw('shearY', this.shear, 0),
        scaleX: draw('scaleX', this.scale, 1),
        scaleY: draw('scaleY', this.scale, 1),
        translateX: draw('translateX', this.translate, 0) * pixels,
        translateY: draw('translateY', this.translate, 0) * pixels,
      });
    }
    return out;
  }

  /**
   * Draws `count` images' control-point offsets, [count, 2, g, g] in affineGrid's [-1, 1] units
   * (channel 0 along x, 1 along y); an image the coin skips gets zeros. Draws nothing when off.
   */
  sampleElastic(rng: Rng, count: number): Float32Array | null {
    if (this.elastic === null) return null;
    const { magnitude, controlPoints: g, probability } = this.elastic;
    const unit = (2 * magnitude) / this.referenceSize;
    const out = new Float32Array(count * 2 * g * g);
    for (let i = 0; i < count; i++) {
      const on = rng.next() < probability;
      for (let j = 0; j < 2 * g * g; j++) {
        const value = rng.uniform(-unit, unit);
        if (on) out[i * 2 * g * g + j] = value;
      }
    }
    return out;
  }

  /** Draws parameters for every image of `images` [B, C, S, S] and applies them. */
  apply(images: Tensor, rng: Rng): Tensor {
    checkImages(images);
    const size = images.shape[3]!;
    const batch = images.shape[0]!;
    const params = this.sample(rng, batch, size);
    const offsets = this.sampleElastic(rng, batch);
    if (this.isIdentity && offsets === null) return images.clone();
    const elastic = offsets === null ? undefined : { offsets, controlPoints: this.elastic!.controlPoints };
    return applyAffine(images, params, { background: this.background, mode: this.mode, elastic });
  }
}

function checkElastic(options: ElasticOptions): Required<ElasticOptions> {
  const { magnitude, controlPoints = 4, probability = 0.5 } = options;
  if (!(Number.isFinite(magnitude) && magnitude >= 0))
    throw new ArgumentError(`RandomAffine: elastic.magnitude must be a number of pixels >= 0; got ${magnitude}`);
  if (!(Number.isInteger(controlPoints) && controlPoints >= 2))
    throw new ArgumentError(`RandomAffine: elastic.controlPoints must be an integer >= 2; got ${controlPoints}`);
  if (!(probability >= 0 && probability <= 1))
    throw new ArgumentError(`RandomAffine: elastic.probability must be in [0, 1]; got ${probability}`);
  return { magnitude, controlPoints, probability };
}

function checkImages(images: Tensor): void {
  if (images.ndim !== 4 || images.shape[2] !== images.shape[3]) {
    throw new ArgumentError(`RandomAffine: images must be square [B, C, S, S]; got [${images.shape.join(', ')}]`);
  }
  if (!images.isFloating)
    throw new ArgumentError(
      `RandomAffine: images must be floating point (ImageSet.batch gives float32); got ${images.dtype}`,
    );
}

/**
 * The affineGrid matrices [B, 2, 3] (row-major, 6 numbers an image) for images of side `size`.
 * affineGrid maps each output position to where it samples the input, so this is the inverse of
 * the forward map p_out = A p_in + t, in the [-1, 1] coordinates where one pixel is 2 / size.
 */
export function affineThetas(params: readonly AffineParams[], size: number): Float32Array {
  const out = new Float32Array(params.length * 6);
  params.forEach((p, i) => {
    const angle = (-p.rotation * Math.PI) / 180; // image rows grow downwards: negate for counter-clockwise on screen
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    // A = R · Sh · S
    const sh00 = p.scaleX;
    const sh01 = p.shearX * p.scaleY;
    const sh10 = p.shearY * p.scaleX;
    const sh11 = p.scaleY;
    const a = cos * sh00 - sin * sh10;
    const b = cos * sh01 - sin * sh11;
    const c = sin * sh00 + cos * sh10;
    const d = sin * sh01 + cos * sh11;
    const det = a * d - b * c;
    if (!(Math.abs(det) > 1e-12))
      throw new ArgumentError(`affineThetas: image ${i}'s transform is singular: ${JSON.stringify(p)}`);
    const ia = d / det;
    const ib = -b / det;
    const ic = -c / det;
    const id = a / det;
    const tx = (2 * p.translateX) / size;
    const ty = (2 * p.translateY) / size;
    out.set([ia, ib, -(ia * tx + ib * ty), ic, id, -(ic * tx + id * ty)], i * 6);
  });
  return out;
}

/**
 * Where each output pixel of an image of side `size` samples its input under each of `params`
 * (affineGrid of {@link affineThetas}, corners not aligned): [B, size, size, 2], in the dtype and on
 * the device `place` gives the matrices (float32 on the CPU by default). The ONNX exporter stores
 * these grids as constants, so exported test-time views sample exactly where applyAffine does.
 */
export function affineSamplingGrid(
  params: readonly AffineParams[],
  size: number,
  place: (theta: Tensor) => Tensor = (theta) => theta,
): Tensor {
  return tidy(() => {
    const theta = place(tensor(affineThetas(params, size), { shape: [params.length, 2, 3] }));
    return affineGrid(theta, [params.length, 1, size, size], false);
  });
}

/**
 * Applies one affine distortion per image of `images` [B, C, S, S] (float): bilinear sampling,
 * `background` where the distortion reaches outside the image.
 */
export function applyAffine(
  images: Tensor,
  params: readonly AffineParams[],
  options: {
    background?: number;
    mode?: 'bilinear' | 'nearest';
    /** Control-point offsets from {@link RandomAffine.sampleElastic}, added to where each pixel samples. */
    elastic?: { offsets: Float32Array; controlPoints: number };
  } = {},
): Tensor {
  checkImages(images);
  const [batch, , size] = images.shape as [number, number, number, number];
  if (params.length !== batch)
    throw new ArgumentError(`applyAffine: ${params.length} parameter sets for a batch of ${batch}`);
  const background = options.background ?? 0;
  const onImages = (t: Tensor): Tensor => {
    const typed = images.dtype === 'float32' ? t : t.to({ dtype: images.dtype });
    return images.device === 'cpu' ? typed : typed.to({ device: images.device as Device });
  };
  return tidy(() => {
    let grid = affineSamplingGrid(params, size, onImages);
    if (options.elastic) grid = grid.add(onImages(elasticField(options.elastic, batch, size)));
    // gridSample pads with zeros; shifting by the background makes the padding the background.
    if (background === 0)
      return gridSample(images, grid, { mode: options.mode ?? 'bilinear', paddingMode: 'zeros', alignCorners: false });
    return gridSample(images.sub(background), grid, {
      mode: options.mode ?? 'bilinear',
      paddingMode: 'zeros',
      alignCorners: false,
    }).add(background);
  });
}

/** Interpolates control-point offsets [B, 2, g, g] bilinearly to a displacement [B, S, S, 2]. */
function elasticField(elastic: { offsets: Float32Array; controlPoints: number }, batch: number, size: number): Tensor {
  const g = elastic.controlPoints;
  if (elastic.offsets.length !== batch * 2 * g * g)
    throw new ArgumentError(
      `applyAffine: elastic offsets hold ${elastic.offsets.length} numbers; expected ${batch * 2 * g * g}`,
    );
  const coarse = tensor(elastic.offsets, { shape: [batch, 2, g, g] });
  // Corners aligned: the outer control points sit on the image corners.
  return interpolate(coarse, { size, mode: 'bilinear', alignCorners: true }).permute(0, 2, 3, 1);
}

/**
 * The set with every image also rotated by 90°, 180° and 270°, each rotation a new class in the
 * same group (as in Santoro et al. 2016 and Vinyals et al. 2016): 964 background characters become 3,856.
 * Class `c` rotated by `k` quarter turns is class `c * turns.length + position of k`, named `name@rot90` etc.
 */
export function expandRotations(set: ImageSet, options: { quarterTurns?: readonly number[] } = {}): ImageSet {
  const turns = options.quarterTurns ?? [0, 1, 2, 3];
  if (
    turns.length === 0 ||
    turns.some((k) => !Number.isInteger(k) || k < 0 || k > 3) ||
    new Set(turns).size !== turns.length
  ) {
    throw new ArgumentError(
      `expandRotations: quarterTurns must be distinct integers in 0..3; got ${JSON.stringify(turns)}`,
    );
  }
  const t = turns.length;
  const pixels = tidy(() => cat(turns.map((k) => (k === 0 ? set.pixels : set.pixels.rot90(k).contiguous()))));
  const labels = new Int32Array(set.size * t);
  const drawers = new Int32Array(set.size * t);
  const paths: string[] = [];
  turns.forEach((k, position) => {
    for (let i = 0; i < set.size; i++) {
      labels[position * set.size + i] = set.labels[i]! * t + position;
      drawers[position * set.size + i] = set.drawers[i]!;
      paths.push(k === 0 ? set.paths[i]! : `${set.paths[i]!}@rot${90 * k}`);
    }
  });
  const classNames: string[] = [];
  const classGroup = new Int32Array(set.numClasses * t);
  for (let c = 0; c < set.numClasses; c++) {
    turns.forEach((k, position) => {
      classNames.push(k === 0 ? set.classNames[c]! : `${set.classNames[c]!}@rot${90 * k}`);
      classGroup[c * t + position] = set.classGroup[c]!;
    });
  }
  return new ImageSet({
    pixels,
    labels,
    classNames,
    classGroup,
    groupNames: set.groupNames,
    drawers,
    paths,
    preprocessing: set.preprocessing,
    source: `${set.source} (rotated ${turns.map((k) => k * 90).join('/')}°)`,
    skipped: set.skipped,
  });
}
