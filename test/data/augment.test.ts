import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '../../src/engine/tensor.js';
import { tidy } from '../../src/engine/scope.js';
import {
  AFFINE_COMPONENTS,
  IDENTITY_AFFINE,
  RandomAffine,
  applyAffine,
  expandRotations,
  type AffineParams,
} from '../../src/data/augment.js';
import { ImageSet } from '../../src/data/dataset.js';
import { Rng } from '../../src/data/random.js';
import { syntheticSet } from './helpers.js';

const SIZE = 41; // odd: the centre is a pixel centre

/** One image [1, 1, SIZE, SIZE] with a bright 3x3 square centred at (x, y) pixels. */
function dot(x: number, y: number): Tensor {
  const data = new Float32Array(SIZE * SIZE);
  for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) data[(y + dy) * SIZE + (x + dx)] = 1;
  return tensor(data, { shape: [1, 1, SIZE, SIZE] });
}

/** Centre of mass (x, y) and spread of an image [1, 1, S, S]. */
function moments(image: Tensor): { x: number; y: number; sx: number; sy: number } {
  const v = image.toArray();
  let m = 0;
  let mx = 0;
  let my = 0;
  v.forEach((w, i) => {
    m += w;
    mx += w * (i % SIZE);
    my += w * Math.floor(i / SIZE);
  });
  const x = mx / m;
  const y = my / m;
  let vx = 0;
  let vy = 0;
  v.forEach((w, i) => {
    vx += w * ((i % SIZE) - x) ** 2;
    vy += w * (Math.floor(i / SIZE) - y) ** 2;
  });
  return { x, y, sx: Math.sqrt(vx / m), sy: Math.sqrt(vy / m) };
}

function transformed(image: Tensor, params: Partial<AffineParams>, background = 0): Tensor {
  return tidy(() => applyAffine(image, [{ ...IDENTITY_AFFINE, ...params }], { background }));
}

describe('RandomAffine#apply()', () => {
  it('is the identity, pixel for pixel, when every component is off', () => {
    const augment = new RandomAffine({ probability: 0 });
    expect(augment.isIdentity).toBe(true);
    const x = tidy(() => syntheticSet([2], 3, { size: 8 }).batch([0, 1, 2, 3, 4, 5]));
    const y = tidy(() => augment.apply(x, new Rng(1)));
    expect(y.toArray()).toEqual(x.toArray());
  });

  it('is the same batch for the same seed, and distorts most images', () => {
    const augment = new RandomAffine();
    const x = tidy(() => dot(20, 20).repeat(16, 1, 1, 1));
    const a = tidy(() => augment.apply(x, new Rng(5)));
    const b = tidy(() => augment.apply(x, new Rng(5)));
    expect(a.toArray()).toEqual(b.toArray());
    const changed = tidy(() => a.sub(x).abs().amax([1, 2, 3]).gt(1e-3).sum().item());
    expect(changed).toBeGreaterThanOrEqual(14); // all 7 components off: 1 in 128
  });

  it('refuses integer images', () => {
    const x = tensor(new Uint8Array(2 * SIZE * SIZE), { shape: [2, 1, SIZE, SIZE], dtype: 'uint8' });
    expect(() => new RandomAffine().apply(x, new Rng(0))).toThrow(/must be floating point/);
  });
});

describe('RandomAffine#sample()', () => {
  it("draws within Koch et al.'s ranges, each component with probability 0.5", () => {
    const params = new RandomAffine().sample(new Rng(2), 4000, 105);
    const on: Record<string, number> = {};
    for (const p of params) {
      expect(Math.abs(p.rotation)).toBeLessThanOrEqual(10);
      expect(Math.abs(p.shearX)).toBeLessThanOrEqual(0.3);
      expect(Math.abs(p.shearY)).toBeLessThanOrEqual(0.3);
      for (const s of [p.scaleX, p.scaleY]) expect(s >= 0.8 && s <= 1.2).toBe(true);
      expect(Math.abs(p.translateX)).toBeLessThanOrEqual(2);
      expect(Math.abs(p.translateY)).toBeLessThanOrEqual(2);
      for (const c of AFFINE_COMPONENTS) if (p[c] !== IDENTITY_AFFINE[c]) on[c] = (on[c] ?? 0) + 1;
    }
    for (const c of AFFINE_COMPONENTS) expect(Math.abs(on[c]! / 4000 - 0.5)).toBeLessThan(0.04);
  });

  it('scales the translation range with the image size', () => {
    const params = new RandomAffine({ probability: 1 }).sample(new Rng(3), 2000, 28);
    const limit = (2 * 28) / 105;
    const largest = Math.max(...params.map((p) => Math.abs(p.translateX)));
    expect(largest).toBeLessThanOrEqual(limit);
    expect(largest).toBeGreaterThan(0.9 * limit);
  });

  it('honours custom ranges and per-component probabilities', () => {
    const augment = new RandomAffine({
      rotation: [30, 40],
      probability: { rotation: 1, shearX: 0, shearY: 0, scaleX: 0, scaleY: 0, translateX: 0, translateY: 0 },
    });
    for (const p of augment.sample(new Rng(4), 500, 105)) {
      expect(p.rotation >= 30 && p.rotation <= 40).toBe(true);
      expect({ ...p, rotation: 0 }).toEqual(IDENTITY_AFFINE);
    }
    expect(() => new RandomAffine({ scale: [1.2, 0.8] })).toThrow(/low <= high/);
    expect(() => new RandomAffine({ probability: 2 })).toThrow(/must be in \[0, 1\]/);
  });
});

describe('applyAffine()', () => {
  it('moves a dot by the translation, in pixels', () => {
    const m = moments(transformed(dot(20, 20), { translateX: 3, translateY: -2 }));
    expect(m.x).toBeCloseTo(23, 2);
    expect(m.y).toBeCloseTo(18, 2);
  });

  it('rotates counter-clockwise on screen for a positive angle', () => {
    const m = moments(transformed(dot(30, 20), { rotation: 90 }));
    expect(m.x).toBeCloseTo(20, 1);
    expect(m.y).toBeCloseTo(10, 1); // right of centre -> above centre (rows grow downwards)
  });

  it('scales about the centre and shears x by y', () => {
    const base = moments(transformed(dot(26, 20), {}));
    const scaled = moments(transformed(dot(26, 20), { scaleX: 1.5 }));
    expect(scaled.x).toBeCloseTo(20 + 6 * 1.5, 1);
    expect(scaled.sx / base.sx).toBeGreaterThan(1.2);
    const sheared = moments(transformed(dot(20, 30), { shearX: 0.3 }));
    expect(sheared.x).toBeCloseTo(20 + 0.3 * 10, 1);
    expect(sheared.y).toBeCloseTo(30, 1);
  });

  it('fills uncovered pixels with the background', () => {
    const white = tensor(new Float32Array(SIZE * SIZE).fill(1), { shape: [1, 1, SIZE, SIZE] });
    const shifted = transformed(white, { translateX: 5 }, 1).toArray();
    expect(Math.min(...shifted)).toBeCloseTo(1, 5);
    const onBlack = transformed(white, { translateX: 5 }, 0).toArray();
    expect(onBlack[SIZE * 20 + 0]).toBe(0); // the leftmost columns came from outside
  });
});

describe('expandRotations()', () => {
  it('turns each class into four in the same group, named by rotation', () => {
    const set = expandRotations(syntheticSet([1, 1], 1, { size: 2 }));
    expect(set.numClasses).toBe(8);
    expect(set.size).toBe(8);
    expect(set.classNames.slice(0, 4)).toEqual(['g0/c0', 'g0/c0@rot90', 'g0/c0@rot180', 'g0/c0@rot270']);
    expect(Array.from(set.classGroup)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    for (let c = 0; c < 8; c++) expect(set.countOfClass(c)).toBe(1);
  });

  it('rotates each copy by its quarter turns', () => {
    const set = expandRotations(
      new ImageSet({
        pixels: tensor(Uint8Array.from([0, 10, 20, 30]), { shape: [1, 1, 2, 2], dtype: 'uint8' }),
        labels: Int32Array.from([0]),
        classNames: ['a'],
        classGroup: Int32Array.from([0]),
        groupNames: [''],
        paths: ['a.png'],
        preprocessing: { size: 2, invert: true },
      }),
    );
    expect(Array.from(set.imageData(0))).toEqual([0, 10, 20, 30]);
    expect(Array.from(set.imageData(1))).toEqual([10, 30, 0, 20]);
    expect(Array.from(set.imageData(2))).toEqual([30, 20, 10, 0]);
    expect(Array.from(set.imageData(3))).toEqual([20, 0, 30, 10]);
  });
});

describe('elastic distortion', () => {
  const g = 4;
  /** Offsets of one image where every control point moves by (dx, dy) in [-1, 1] units. */
  const uniformOffsets = (dx: number, dy: number) =>
    Float32Array.from({ length: 2 * g * g }, (_, i) => (i < g * g ? dx : dy));

  it('moves the image by a uniform offset exactly as the equal translation does', () => {
    const image = dot(20, 20);
    // Sampling from p + d moves the content by -d: 3 pixels right is d = -3 * 2 / SIZE.
    const warped = tidy(() =>
      applyAffine(image, [IDENTITY_AFFINE], {
        elastic: { offsets: uniformOffsets((-3 * 2) / SIZE, 0), controlPoints: g },
      }),
    );
    const shifted = transformed(image, { translateX: 3 });
    const a = warped.toArray();
    shifted.toArray().forEach((v, i) => expect(a[i]).toBeCloseTo(v, 5));
    expect(moments(warped).x).toBeCloseTo(23, 4);
  });

  it('bends one part of an image and not another when the control points differ', () => {
    // Only the top-left control point moves: a dot at the top left moves, one at the bottom right stays.
    const offsets = new Float32Array(2 * g * g);
    offsets[0] = (-2 * 2) / SIZE;
    const field = { offsets, controlPoints: g };
    const topLeft = moments(tidy(() => applyAffine(dot(3, 3), [IDENTITY_AFFINE], { elastic: field })));
    const bottomRight = moments(tidy(() => applyAffine(dot(37, 37), [IDENTITY_AFFINE], { elastic: field })));
    expect(topLeft.x).toBeGreaterThan(4);
    expect(bottomRight.x).toBeCloseTo(37, 5);
    expect(bottomRight.y).toBeCloseTo(37, 5);
  });

  it('draws offsets within ±magnitude, reproducibly, and leaves the affine draws unchanged', () => {
    const plain = new RandomAffine();
    const elastic = new RandomAffine({ elastic: { magnitude: 5, controlPoints: g, probability: 1 } });
    const offsets = elastic.sampleElastic(new Rng(9), 50)!;
    const unit = (2 * 5) / 105;
    expect(Math.max(...offsets.map(Math.abs))).toBeLessThanOrEqual(unit);
    expect(Math.max(...offsets.map(Math.abs))).toBeGreaterThan(0.9 * unit);
    expect(elastic.sampleElastic(new Rng(9), 50)).toEqual(offsets);
    expect(plain.sampleElastic(new Rng(9), 50)).toBeNull();
    expect(elastic.sample(new Rng(3), 10, 28)).toEqual(plain.sample(new Rng(3), 10, 28));
    const x = tidy(() => dot(20, 20).repeat(8, 1, 1, 1));
    const a = tidy(() => elastic.apply(x, new Rng(4)));
    expect(tidy(() => elastic.apply(x, new Rng(4))).toArray()).toEqual(a.toArray());
    expect(tidy(() => plain.apply(x, new Rng(4))).toArray()).not.toEqual(a.toArray());
  });

  it('skips about 1 - probability of the images', () => {
    const offsets = new RandomAffine({ elastic: { magnitude: 3, probability: 0.25 } }).sampleElastic(new Rng(1), 2000)!;
    let warped = 0;
    for (let i = 0; i < 2000; i++) if (offsets.subarray(i * 32, (i + 1) * 32).some((v) => v !== 0)) warped += 1;
    expect(warped / 2000).toBeGreaterThan(0.22);
    expect(warped / 2000).toBeLessThan(0.28);
  });

  it('refuses a bad setting with what is wrong', () => {
    expect(() => new RandomAffine({ elastic: { magnitude: -1 } })).toThrow(
      /elastic.magnitude must be a number of pixels >= 0/,
    );
    expect(() => new RandomAffine({ elastic: { magnitude: 1, controlPoints: 1 } })).toThrow(
      /controlPoints must be an integer >= 2/,
    );
    expect(() => new RandomAffine({ elastic: { magnitude: 1, probability: 2 } })).toThrow(
      /probability must be in \[0, 1\]/,
    );
  });
});
