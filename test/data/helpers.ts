// Test fixtures made on the fly: grayscale PNGs of any bit depth and filter, synthetic "characters",
// Omniglot-like zips and folders, and the one-shot runs layout, all in a temporary folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { zipSync, zlibSync } from 'fflate';
import { afterAll } from 'vitest';
import { tensor } from '../../src/engine/tensor.js';
import { ImageSet } from '../../src/data/dataset.js';
import { findOmniglot } from '../helpers/prerequisites.js';

/** The real Omniglot zips' folder, for tests under `needs(OMNIGLOT)` (test/helpers/prerequisites.ts). */
export const OMNIGLOT_DIR = findOmniglot() ?? '(Omniglot not found)';

const created: string[] = [];
afterAll(() => {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed after the test file. */
export function tempDir(prefix = 'twinshot-data-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  created.push(dir);
  return dir;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Encodes gray pixels (0..255, quantised to the bit depth) as a PNG; `filters` picks each row's
 * filter type (cycled), so every unfiltering branch of a decoder gets exercised.
 */
export function encodeGrayPng(
  gray: Uint8Array,
  width: number,
  height: number,
  options: {
    bitDepth?: 1 | 2 | 4 | 8;
    filters?: number[];
    colorType?: number;
    interlace?: number;
    extraChunks?: Uint8Array[];
  } = {},
): Uint8Array {
  const bitDepth = options.bitDepth ?? 8;
  const filters = options.filters ?? [0];
  const max = (1 << bitDepth) - 1;
  const rowBytes = Math.ceil((width * bitDepth) / 8);
  const raw = new Uint8Array(height * (rowBytes + 1));
  let previous = new Uint8Array(rowBytes);
  for (let y = 0; y < height; y++) {
    const row = new Uint8Array(rowBytes);
    for (let x = 0; x < width; x++) {
      const v = Math.round((gray[y * width + x]! / 255) * max);
      const bit = x * bitDepth;
      row[bit >> 3]! |= v << (8 - bitDepth - (bit & 7));
    }
    const filter = filters[y % filters.length]!;
    raw[y * (rowBytes + 1)] = filter;
    for (let i = 0; i < rowBytes; i++) {
      const a = i > 0 ? row[i - 1]! : 0;
      const b = previous[i]!;
      const c = i > 0 ? previous[i - 1]! : 0;
      const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter]!;
      raw[y * (rowBytes + 1) + 1 + i] = (row[i]! - predictor) & 0xff;
    }
    previous = row;
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = bitDepth;
  header[9] = options.colorType ?? 0;
  header[12] = options.interlace ?? 0;
  const parts = [
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    ...(options.extraChunks ?? []),
    chunk('IDAT', zlibSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export { chunk as pngChunk };

/**
 * A synthetic handwritten "character": black strokes on white, 1-bit, its shape set by `classId`
 * and jittered by `drawer`, so that classes differ and drawers of one class look alike.
 */
export function glyph(classId: number, drawer: number, size = 35): Uint8Array {
  const gray = new Uint8Array(size * size).fill(255);
  let seed = classId * 7919 + 13;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const jitter = ((drawer * 37) % 5) - 2;
  for (let s = 0; s < 3; s++) {
    const x0 = 4 + rand() * (size - 8);
    const y0 = 4 + rand() * (size - 8);
    const x1 = 4 + rand() * (size - 8);
    const y1 = 4 + rand() * (size - 8);
    for (let t = 0; t <= 1; t += 0.01) {
      const x = Math.round(x0 + (x1 - x0) * t + jitter * 0.3);
      const y = Math.round(y0 + (y1 - y0) * t);
      for (let dy = -1; dy <= 1; dy++)
        for (let dx = -1; dx <= 1; dx++) {
          const px = x + dx;
          const py = y + dy;
          if (px >= 0 && py >= 0 && px < size && py < size) gray[py * size + px] = 0;
        }
    }
  }
  return gray;
}

export function glyphPng(classId: number, drawer: number, size = 35): Uint8Array {
  return encodeGrayPng(glyph(classId, drawer, size), size, size, { bitDepth: 1, filters: [0, 1, 2, 3, 4] });
}

/**
 * Omniglot's layout with synthetic images: `alphabets[a]` characters in alphabet a, `drawers`
 * drawers each, as zip entries `prefix/Alphabet_a/characterNN/IIII_DD.png`.
 */
export function omniglotEntries(
  alphabets: number[],
  drawers: number,
  prefix = 'images_background',
  options: { size?: number; firstAlphabet?: number; firstId?: number } = {},
): Record<string, Uint8Array> {
  const entries: Record<string, Uint8Array> = {};
  const size = options.size ?? 35;
  let id = options.firstId ?? 1;
  alphabets.forEach((characters, a) => {
    for (let c = 1; c <= characters; c++, id++) {
      for (let d = 1; d <= drawers; d++) {
        const name = `${prefix}/Alphabet_${String.fromCharCode(65 + (options.firstAlphabet ?? 0) + a)}/character${String(c).padStart(2, '0')}/${String(id).padStart(4, '0')}_${String(d).padStart(2, '0')}.png`;
        entries[name] = glyphPng(id, d, size);
      }
    }
  });
  return entries;
}

export function writeZip(file: string, entries: Record<string, Uint8Array>): string {
  fs.writeFileSync(file, zipSync(entries, { level: 0 }));
  return file;
}

export function writeTree(root: string, entries: Record<string, Uint8Array | string>): string {
  for (const [name, data] of Object.entries(entries)) {
    const file = path.join(root, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, data);
  }
  return root;
}

/**
 * An in-memory set for sampler and split tests: `classesPerGroup[g]` classes in group g, each
 * with `imagesPerClass` images (or a per-class count), pixel value = image index mod 256.
 */
export function syntheticSet(
  classesPerGroup: number[],
  imagesPerClass: number | ((c: number) => number),
  options: { size?: number; drawers?: boolean } = {},
): ImageSet {
  const size = options.size ?? 4;
  const labels: number[] = [];
  const classGroup: number[] = [];
  const classNames: string[] = [];
  const drawers: number[] = [];
  let c = 0;
  classesPerGroup.forEach((count, g) => {
    for (let k = 0; k < count; k++, c++) {
      classNames.push(`g${g}/c${k}`);
      classGroup.push(g);
      const n = typeof imagesPerClass === 'number' ? imagesPerClass : imagesPerClass(c);
      for (let i = 0; i < n; i++) {
        labels.push(c);
        drawers.push(options.drawers === false ? -1 : i);
      }
    }
  });
  const n = labels.length;
  const pixels = new Uint8Array(n * size * size);
  for (let i = 0; i < n; i++) pixels.fill(i % 256, i * size * size, (i + 1) * size * size);
  return new ImageSet({
    pixels: tensor(pixels, { shape: [n, 1, size, size], dtype: 'uint8' }),
    labels: Int32Array.from(labels),
    classNames,
    classGroup: Int32Array.from(classGroup),
    groupNames: classesPerGroup.map((_, g) => `g${g}`),
    drawers: Int32Array.from(drawers),
    paths: labels.map((_, i) => `image${i}.png`),
    preprocessing: { size, invert: true },
    source: 'synthetic',
  });
}

/** Collects warnings instead of printing them. */
export function warnings(): { messages: string[]; onWarning: (m: string) => void } {
  const messages: string[] = [];
  return { messages, onWarning: (m) => messages.push(m) };
}
