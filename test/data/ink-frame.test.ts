import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { cropWindow, frameInk, inkWindow } from '../../src/data/ink-frame.js';
import { decodeImage, resizeGray, samePreprocessing } from '../../src/data/image.js';
import { decodeMany } from '../../src/data/decode.js';
import { loadMnistDigits } from '../../src/data/mnist.js';
import { checkPreprocessing } from '../../src/data/build.js';
import { encodeGrayPng, glyph } from './helpers.js';

/** A page of paper with one ink rectangle [x0, x1) x [y0, y1). */
function page(width: number, height: number, x0: number, x1: number, y0: number, y1: number): Uint8Array {
  const gray = new Uint8Array(width * height).fill(255);
  for (let y = y0; y < y1; y++) gray.fill(0, y * width + x0, y * width + x1);
  return gray;
}

/** A square outline of side `side` and stroke `stroke` at (x, y) on a `size` page. */
function outline(size: number, x: number, y: number, side: number, stroke: number): Uint8Array {
  const gray = page(size, size, x, x + side, y, y + side);
  for (let r = y + stroke; r < y + side - stroke; r++)
    gray.fill(255, r * size + x + stroke, r * size + x + side - stroke);
  return gray;
}

/** Ink's bounding box in an inverted (ink = bright) square image. */
function inkBox(pixels: Uint8Array, size: number): { width: number; height: number } {
  let minX = size;
  let maxX = -1;
  let minY = size;
  let maxY = -1;
  pixels.forEach((v, i) => {
    if (v < 128) return;
    const x = i % size;
    const y = (i / size) | 0;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  });
  return { width: maxX - minX + 1, height: maxY - minY + 1 };
}

const meanDiff = (a: Uint8Array, b: Uint8Array): number => a.reduce((s, v, i) => s + Math.abs(v - b[i]!), 0) / a.length;

describe('inkWindow() and cropWindow()', () => {
  it('centre a square on the ink with a tenth of paper on each side, padding past the edges', () => {
    // 20 x 40 pixels of ink at x 10-29, y 20-59: the longer side 40 is 80% of a 50-pixel window.
    const gray = page(100, 60, 10, 30, 20, 60);
    const window = inkWindow(gray, 100, 60)!;
    expect(window).toEqual({ left: -5, top: 15, side: 50 });
    const crop = cropWindow(gray, 100, 60, window);
    expect(crop.length).toBe(2500);
    for (let y = 0; y < 50; y++) {
      for (let x = 0; x < 50; x++) {
        const inside = x >= 15 && x < 35 && y >= 5 && y < 45;
        expect(crop[y * 50 + x], `(${x}, ${y})`).toBe(inside ? 0 : 255);
      }
    }
  });

  it('leaves a blank page as it is', () => {
    const blank = new Uint8Array(30 * 20).fill(255);
    expect(inkWindow(blank, 30, 20)).toBeNull();
    const framed = frameInk(blank, 30, 20);
    expect(framed.width).toBe(30);
    expect(framed.height).toBe(20);
    expect(framed.data).toBe(blank);
  });
});

describe("preprocessing with frame 'ink'", () => {
  it('gives a small shape in a corner and a large one in the middle the same input', () => {
    const ink = { size: 28, invert: true, frame: 'ink' } as const;
    const plain = { size: 28, invert: true } as const;
    const small = outline(105, 5, 70, 24, 2);
    const large = outline(105, 20, 15, 72, 6);
    const a = resizeGray(small, 105, 105, ink);
    const b = resizeGray(large, 105, 105, ink);
    expect(meanDiff(a, b)).toBeLessThan(4);
    // Without framing the two are far apart, and the shape fills 80% of the framed input.
    expect(meanDiff(resizeGray(small, 105, 105, plain), resizeGray(large, 105, 105, plain))).toBeGreaterThan(30);
    const box = inkBox(a, 28);
    expect(Math.max(box.width, box.height)).toBeGreaterThanOrEqual(22);
  });

  it('gives the same pixels through sharp (colour PNG) and the fast gray-PNG path', async () => {
    const ink = { size: 28, invert: true, frame: 'ink' } as const;
    for (const c of [0, 1, 2]) {
      const gray = glyph(c, 1, 105);
      const fastPng = encodeGrayPng(gray, 105, 105, { bitDepth: 1 });
      const rgbPng = new Uint8Array(
        await sharp(Buffer.from(gray), { raw: { width: 105, height: 105, channels: 1 } })
          .toColourspace('srgb')
          .png()
          .toBuffer(),
      );
      const { pixels } = await decodeMany([{ path: 'fast.png', read: () => fastPng }], ink);
      const viaSharp = await decodeImage(rgbPng, ink);
      expect(Math.max(...Array.from(pixels, (v, i) => Math.abs(v - viaSharp[i]!)))).toBeLessThanOrEqual(3);
      // Framing changed something: the framed glyph is not the plain one.
      expect(meanDiff(pixels, await decodeImage(fastPng, { size: 28, invert: true }))).toBeGreaterThan(5);
    }
  });

  it('frames pictures over 512x512 in libvips with the window and nearly the pixels of the TypeScript path', async () => {
    const ink = { size: 40, invert: true, frame: 'ink' } as const;
    for (const [name, width, height, gray] of [
      ['an outline in a corner', 900, 700, page(900, 700, 600, 800, 420, 640)],
      ['ink reaching past two edges', 800, 800, page(800, 800, 0, 300, 500, 800)],
      ['a thin line', 1200, 1000, page(1200, 1000, 100, 1100, 500, 501)],
      ['no ink', 1000, 600, page(1000, 600, 0, 0, 0, 0)],
    ] as const) {
      const png = await sharp(Buffer.from(gray), { raw: { width, height, channels: 1 } })
        .png()
        .toBuffer();
      const expected = resizeGray(gray, width, height, ink);
      const actual = await decodeImage(png, ink);
      const diffs = Array.from(expected, (v, i) => Math.abs(v - actual[i]!));
      expect({ name, mean: meanDiff(expected, actual) < 1, max: Math.max(...diffs) <= 16 }).toEqual({
        name,
        mean: true,
        max: true,
      });
    }
  });

  it('frames MNIST digits too', () => {
    const framed = loadMnistDigits({ perDigit: 3, frame: 'ink' });
    const plain = loadMnistDigits({ perDigit: 3 });
    expect(framed.preprocessing).toEqual({ size: 28, invert: true, frame: 'ink' });
    expect(plain.preprocessing).toEqual({ size: 28, invert: true });
    const a = Uint8Array.from(framed.images([0]).toArray());
    const b = Uint8Array.from(plain.images([0]).toArray());
    // MNIST digits fill 20 of 28 pixels; framed they fill 80%, about 22.
    expect(Math.max(...Object.values(inkBox(a, 28)))).toBeGreaterThan(Math.max(...Object.values(inkBox(b, 28))));
  });

  it('is recorded only when it is not the default, and compared as such', () => {
    expect(checkPreprocessing({ size: 28 }, { size: 105, invert: true })).toEqual({ size: 28, invert: true });
    expect(checkPreprocessing({ frame: 'ink' }, { size: 105, invert: true })).toEqual({
      size: 105,
      invert: true,
      frame: 'ink',
    });
    expect(() => checkPreprocessing({ frame: 'crop' as 'ink' }, { size: 105, invert: true })).toThrow(
      /frame must be 'image' or 'ink'; got crop/,
    );
    expect(samePreprocessing({ size: 28, invert: true }, { size: 28, invert: true, frame: 'image' })).toBe(true);
    expect(samePreprocessing({ size: 28, invert: true }, { size: 28, invert: true, frame: 'ink' })).toBe(false);
  });
});
