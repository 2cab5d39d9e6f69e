import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { unzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodeGrayPng } from '../../src/data/png.js';
import { GrayResizer } from '../../src/data/resize.js';
import { decodeMany } from '../../src/data/decode.js';
import { decodeImage } from '../../src/data/image.js';
import { OMNIGLOT_DIR, encodeGrayPng, glyph, pngChunk } from './helpers.js';
import { needs, OMNIGLOT } from '../helpers/prerequisites.js';

async function sharpGray(bytes: Uint8Array): Promise<Uint8Array> {
  const { data, info } = await sharp(bytes).grayscale().raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(1);
  return new Uint8Array(data);
}

function ramp(width: number, height: number): Uint8Array {
  return Uint8Array.from(
    { length: width * height },
    (_, i) => ((i % width) * 255) / (width - 1) + ((i / width) | 0) * 3,
  );
}

describe('decodeGrayPng()', () => {
  for (const bitDepth of [1, 2, 4, 8] as const) {
    it(`matches sharp pixel for pixel on a ${bitDepth}-bit gray PNG using every row filter`, async () => {
      const png = encodeGrayPng(ramp(37, 23), 37, 23, { bitDepth, filters: [0, 1, 2, 3, 4] });
      const fast = decodeGrayPng(png);
      expect(fast).not.toBeNull();
      expect(fast!.width).toBe(37);
      expect(fast!.height).toBe(23);
      expect(Array.from(fast!.data)).toEqual(Array.from(await sharpGray(png)));
    });
  }

  it('declines colour, interlaced and transparent PNGs, leaving them to sharp', () => {
    const gray = ramp(8, 8);
    expect(decodeGrayPng(encodeGrayPng(gray, 8, 8, { colorType: 2 }))).toBeNull();
    expect(decodeGrayPng(encodeGrayPng(gray, 8, 8, { interlace: 1 }))).toBeNull();
    expect(
      decodeGrayPng(encodeGrayPng(gray, 8, 8, { extraChunks: [pngChunk('tRNS', Uint8Array.from([0, 255]))] })),
    ).toBeNull();
  });

  it('declines a PNG with a damaged chunk instead of returning wrong pixels', () => {
    const png = encodeGrayPng(ramp(16, 16), 16, 16);
    const damaged = png.slice();
    damaged[damaged.length - 20]! ^= 0x40; // inside IDAT: its CRC no longer matches
    expect(decodeGrayPng(damaged)).toBeNull();
    expect(decodeGrayPng(png.subarray(0, png.length - 30))).toBeNull();
    expect(decodeGrayPng(new TextEncoder().encode('not a png at all'))).toBeNull();
  });
});

describe('GrayResizer#resizeInto()', () => {
  it("agrees with sharp's Lanczos-3 resize (decodeImage) within 3 levels", async () => {
    const size = 105;
    for (const target of [28, 50]) {
      const resizer = new GrayResizer(size, size, target);
      let total = 0;
      for (let c = 0; c < 6; c++) {
        const gray = glyph(c, 1, size);
        const png = encodeGrayPng(gray, size, size, { bitDepth: 1 });
        const out = new Uint8Array(target * target);
        resizer.resizeInto(gray, out, 0, true);
        const reference = await decodeImage(png, { size: target, invert: true });
        for (let i = 0; i < out.length; i++) {
          const diff = Math.abs(out[i]! - reference[i]!);
          expect(diff).toBeLessThanOrEqual(3);
          total += diff;
        }
      }
      expect(total / (6 * target * target)).toBeLessThan(0.3);
    }
  });

  it('keeps a blank page blank and a full page full', () => {
    const resizer = new GrayResizer(40, 30, 10);
    const out = new Uint8Array(100);
    resizer.resizeInto(new Uint8Array(1200).fill(255), out, 0, true);
    expect(out.every((v) => v === 0)).toBe(true);
    resizer.resizeInto(new Uint8Array(1200).fill(0), out, 0, true);
    expect(out.every((v) => v === 255)).toBe(true);
    resizer.resizeInto(new Uint8Array(1200).fill(0), out, 0, false);
    expect(out.every((v) => v === 0)).toBe(true);
  });
});

describe('decodeMany()', () => {
  it('decodes fast-path PNGs, sharp-only JPEGs and reports bad files without throwing', async () => {
    const gray = glyph(3, 1, 35);
    const png = encodeGrayPng(gray, 35, 35, { bitDepth: 1 });
    const jpeg = new Uint8Array(
      await sharp(Buffer.from(gray), { raw: { width: 35, height: 35, channels: 1 } })
        .jpeg({ quality: 95 })
        .toBuffer(),
    );
    const sources = [
      { path: 'a.png', read: () => png },
      { path: 'b.jpg', read: () => jpeg },
      { path: 'broken.png', read: () => png.subarray(0, 40) },
      {
        path: 'missing.png',
        read: (): Uint8Array => {
          throw new Error('ENOENT');
        },
      },
      { path: 'notes.png', read: () => new TextEncoder().encode('hello') },
    ];
    const result = await decodeMany(sources, { size: 20, invert: true });
    expect(Array.from(result.decoded)).toEqual([1, 1, 0, 0, 0]);
    expect(result.skipped.map((s) => s.path)).toEqual(['broken.png', 'missing.png', 'notes.png']);
    expect(result.skipped[1]!.reason).toMatch(/could not be read \(ENOENT\)/);
    const a = result.pixels.subarray(0, 400);
    const b = result.pixels.subarray(400, 800);
    const reference = await decodeImage(png, { size: 20, invert: true });
    expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - reference[i]!)))).toBeLessThanOrEqual(3);
    // The JPEG went through sharp: close to the PNG (lossy), far from blank.
    let diff = 0;
    for (let i = 0; i < 400; i++) diff += Math.abs(a[i]! - b[i]!);
    expect(diff / 400).toBeLessThan(12);
    expect(b.reduce((s, v) => s + v, 0)).toBeGreaterThan(400 * 20);
  });

  needs(OMNIGLOT).it(
    'decodes real Omniglot PNGs exactly like sharp at 105x105 and within 3 levels at 28x28',
    async () => {
      const files = unzipSync(fs.readFileSync(path.join(OMNIGLOT_DIR, 'images_evaluation.zip')), {
        filter: (f) => f.name.endsWith('.png') && /character0[1-2]\//.test(f.name) && f.name.includes('Tengwar'),
      });
      const names = Object.keys(files).sort();
      expect(names.length).toBe(40);
      const sources = names.map((name) => ({ path: name, read: () => files[name]! }));
      for (const size of [105, 28]) {
        const result = await decodeMany(sources, { size, invert: true });
        expect(result.skipped).toEqual([]);
        for (let i = 0; i < names.length; i++) {
          const reference = await decodeImage(files[names[i]!]!, { size, invert: true });
          const mine = result.pixels.subarray(i * size * size, (i + 1) * size * size);
          let max = 0;
          for (let j = 0; j < reference.length; j++) max = Math.max(max, Math.abs(reference[j]! - mine[j]!));
          expect(max).toBeLessThanOrEqual(size === 105 ? 0 : 3);
        }
      }
    },
  );
});
