// PixelEmbedder: the raw-pixel nearest-neighbour baseline as an Embedder (area-downsampled,
// centred, unit-length pixels), for tests, benchmarks and the service before a model is trained.
import { callAsync, tensor } from '../engine/index.js';
import { normalize } from '../nn/functional.js';
import { TwinshotError } from '../errors.js';
import type { Embedder, EmbedderInfo } from './embedder.js';

export interface PixelEmbedderOptions {
  /** Side of the decoded input square (default 105, Omniglot's size). */
  size?: number;
  /** Side of the downsampled grid; the vector has grid * grid values (default 16). */
  grid?: number;
  /** Distance at or below which two images are called the same class (default: calibrated, see below). */
  threshold?: number;
}

/**
 * Calibration on Omniglot's evaluation alphabets (20 alphabets, 659 characters): 10,000 pairs of
 * two drawers of one character and 10,000 pairs of two characters of one alphabet (the hard
 * negatives), 105x105 inputs on the 16x16 grid. A logistic fit of "same class" on the distance,
 * with equal priors, gives p = 1 / (1 + exp(slope * (d - midpoint))); the default threshold is
 * the midpoint (p = 0.5), where 60.7% of the pairs are called right. Raw pixels separate
 * handwriting poorly: same-character pairs average 1.08 apart, different ones 1.18 (see
 * docs/service.md). Only valid for grid 16 at size 105; other grids are rough.
 */
const CALIBRATION = { midpoint: 1.13, slope: 3.6 } as const;

/**
 * The raw-pixel baseline of Lake et al. (2015): images compared by Euclidean distance of their
 * pixels. Each image is area-averaged to a grid x grid square (which tolerates small shifts of a
 * stroke), centred by subtracting its mean and scaled to unit length (so ink amount and contrast
 * do not dominate). Distances lie in [0, 2]. It runs on the engine's async path.
 *
 * @example
 * const embedder = new PixelEmbedder();          // 105x105 in, 256-d out, metric 'l2'
 * const [v] = await embedder.embed([pixels]);    // pixels: Uint8Array(105 * 105)
 */
export class PixelEmbedder implements Embedder {
  readonly info: EmbedderInfo;
  readonly #grid: number;

  /** @throws TwinshotError ERR_ARGUMENT for a grid larger than the input or non-integer sizes */
  constructor(options: PixelEmbedderOptions = {}) {
    const size = options.size ?? 105;
    const grid = options.grid ?? 16;
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(grid) || grid < 1 || grid > size) {
      throw new TwinshotError('ERR_ARGUMENT', `PixelEmbedder: need integers 1 <= grid <= size; got grid ${grid}, size ${size}`);
    }
    const threshold = options.threshold ?? CALIBRATION.midpoint;
    if (!(threshold > 0)) throw new TwinshotError('ERR_ARGUMENT', `PixelEmbedder: threshold must be > 0; got ${threshold}`);
    this.#grid = grid;
    this.info = {
      name: `pixels-${grid}`,
      dim: grid * grid,
      metric: 'l2',
      // Ink as 255 on 0, as the trained models see it; centring makes the choice immaterial here.
      preprocessing: { size, invert: true },
      threshold,
    };
  }

  /**
   * Embeds decoded images: each a Uint8Array of size * size pixels.
   * @throws TwinshotError ERR_SHAPE when an image has the wrong number of pixels
   */
  async embed(images: readonly Uint8Array[]): Promise<Float32Array[]> {
    const { size } = this.info.preprocessing;
    const pixels = size * size;
    if (images.length === 0) return [];
    const batch = new Uint8Array(images.length * pixels);
    images.forEach((image, i) => {
      if (!(image instanceof Uint8Array) || image.length !== pixels) {
        throw new TwinshotError(
          'ERR_SHAPE',
          `PixelEmbedder: image ${i} must be ${size}x${size} = ${pixels} pixels; got ${image?.length ?? typeof image}`,
        );
      }
      batch.set(image, i * pixels);
    });
    const input = tensor(batch, { shape: [images.length, 1, size, size], dtype: 'float32' });
    const pooled = await callAsync('adaptiveAvgPool2d', input.handle, [this.#grid, this.#grid]);
    input.dispose();
    try {
      const flat = pooled.reshape(images.length, this.info.dim);
      const mean = flat.mean(1, true);
      const centred = flat.sub(mean);
      const unit = normalize(centred, { dim: 1 });
      const data = unit.data() as Float32Array;
      for (const t of [flat, mean, centred, unit]) t.dispose();
      return images.map((_, i) => data.slice(i * this.info.dim, (i + 1) * this.info.dim));
    } finally {
      pooled.dispose();
    }
  }

  /** Calibrated probability that two images `distance` apart show one class (logistic in the distance). */
  confidence(distance: number): number {
    const z = CALIBRATION.slope * (distance - CALIBRATION.midpoint);
    return 1 / (1 + Math.exp(z));
  }

  async close(): Promise<void> {}
}
