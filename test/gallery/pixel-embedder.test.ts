// PixelEmbedder, the raw-pixel baseline: what its vectors are (area means, centred, unit length),
// what it tolerates, its calibration's shape, and its refusals.
import { describe, expect, it } from 'vitest';
import { PixelEmbedder } from '../../src/models/pixel-embedder.js';
import { decodeImage } from '../../src/data/image.js';
import { vectorDistance } from '../../src/models/embedder.js';
import { isTwinshotError } from '../../src/errors.js';
import { drawSymbol } from './helpers.js';

/** The same embedding computed naively: block means of a size x size image on a grid x grid raster. */
function naive(pixels: Uint8Array, size: number, grid: number): Float32Array {
  const out = new Float64Array(grid * grid);
  for (let gy = 0; gy < grid; gy++) {
    for (let gx = 0; gx < grid; gx++) {
      // adaptive average pooling: rows floor(i*size/grid) .. ceil((i+1)*size/grid)
      const y0 = Math.floor((gy * size) / grid);
      const y1 = Math.ceil(((gy + 1) * size) / grid);
      const x0 = Math.floor((gx * size) / grid);
      const x1 = Math.ceil(((gx + 1) * size) / grid);
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += pixels[y * size + x]!;
      out[gy * grid + gx] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  const mean = out.reduce((a, b) => a + b, 0) / out.length;
  const centred = out.map((v) => v - mean);
  const norm = Math.hypot(...centred);
  return Float32Array.from(centred, (v) => v / norm);
}

describe('PixelEmbedder#embed()', () => {
  it('returns centred unit vectors of grid x grid area means (against a naive loop)', async () => {
    const embedder = new PixelEmbedder({ size: 20, grid: 6 });
    const pixels = Uint8Array.from({ length: 400 }, (_, i) => (i * 37) % 256);
    const [v] = await embedder.embed([pixels]);
    const expected = naive(pixels, 20, 6);
    expect(v).toHaveLength(36);
    v!.forEach((x, i) => expect(x).toBeCloseTo(expected[i]!, 5));
    expect(v!.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 5);
    expect(Math.hypot(...v!)).toBeCloseTo(1, 5);
  });

  it('embeds a batch exactly as it embeds each image alone', async () => {
    const embedder = new PixelEmbedder();
    const images = await Promise.all(
      (['circle', 'cross', 'wave'] as const).map(async (k) =>
        decodeImage(await drawSymbol(k), embedder.info.preprocessing),
      ),
    );
    const batch = await embedder.embed(images);
    for (let i = 0; i < images.length; i++) {
      const [alone] = await embedder.embed([images[i]!]);
      expect(vectorDistance('l2', batch[i]!, alone!)).toBeLessThan(1e-6);
    }
  });

  it('ignores brightness and contrast (centring and unit length) and maps a blank image to zero', async () => {
    const embedder = new PixelEmbedder({ size: 8, grid: 4 });
    const a = Uint8Array.from({ length: 64 }, (_, i) => (i % 8) * 10);
    const b = Uint8Array.from(a, (x) => 2 * x + 50);
    const [va, vb, blank] = await embedder.embed([a, b, new Uint8Array(64).fill(7)]);
    expect(vectorDistance('l2', va!, vb!)).toBeLessThan(1e-5);
    expect(Array.from(blank!).every((x) => x === 0)).toBe(true);
  });

  it('puts a shifted, thicker drawing of a symbol nearer than other symbols', async () => {
    const embedder = new PixelEmbedder();
    const decode = async (png: Buffer): Promise<Uint8Array> => decodeImage(png, embedder.info.preprocessing);
    const [circle, circle2, cross, triangle] = await embedder.embed([
      await decode(await drawSymbol('circle')),
      await decode(await drawSymbol('circle', { dx: 2, dy: -2, stroke: 7 })),
      await decode(await drawSymbol('cross')),
      await decode(await drawSymbol('triangle')),
    ]);
    const same = vectorDistance('l2', circle!, circle2!);
    expect(same).toBeLessThan(embedder.info.threshold);
    expect(same).toBeLessThan(vectorDistance('l2', circle!, cross!));
    expect(same).toBeLessThan(vectorDistance('l2', circle!, triangle!));
  });

  it('refuses images of the wrong size with ERR_SHAPE, and bad options with ERR_ARGUMENT', async () => {
    const embedder = new PixelEmbedder();
    const error = await embedder.embed([new Uint8Array(100)]).catch((e: unknown) => e);
    expect(isTwinshotError(error) && error.code).toBe('ERR_SHAPE');
    expect(() => new PixelEmbedder({ grid: 200 })).toThrow(/grid/);
    expect(() => new PixelEmbedder({ threshold: 0 })).toThrow(/threshold/);
    expect(await embedder.embed([])).toEqual([]);
  });

  it('describes itself for galleries: name by grid, l2, Omniglot-sized inverted input', () => {
    expect(new PixelEmbedder().info).toEqual({
      name: 'pixels-16',
      dim: 256,
      metric: 'l2',
      preprocessing: { size: 105, invert: true },
      threshold: expect.any(Number),
    });
    expect(new PixelEmbedder({ grid: 8 }).info).toMatchObject({ name: 'pixels-8', dim: 64 });
  });
});

describe('PixelEmbedder#confidence()', () => {
  it('is a probability that falls with distance and is one half at the default threshold', () => {
    const embedder = new PixelEmbedder();
    const values = [0, 0.5, 1, embedder.info.threshold, 1.5, 2].map((d) => embedder.confidence(d));
    for (const v of values) expect(v).toBeGreaterThanOrEqual(0);
    for (const v of values) expect(v).toBeLessThanOrEqual(1);
    expect([...values].sort((a, b) => b - a)).toEqual(
      [...values.slice(0, 3), values[3]!, ...values.slice(4)].sort((a, b) => b - a),
    );
    expect(embedder.confidence(embedder.info.threshold)).toBeCloseTo(0.5, 10);
    expect(embedder.confidence(0)).toBeGreaterThan(0.9);
    expect(embedder.confidence(2)).toBeLessThan(0.1);
  });
});
