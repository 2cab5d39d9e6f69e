import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/engine/tensor.js';
import { tidy } from '../../src/engine/scope.js';
import { ImageSet, concatImageSets } from '../../src/data/dataset.js';
import { syntheticSet } from './helpers.js';

describe('ImageSet#constructor()', () => {
  it('indexes images by class and classes by group', () => {
    const set = syntheticSet([2, 3], 4);
    expect(set.size).toBe(20);
    expect(set.numClasses).toBe(5);
    expect(set.numGroups).toBe(2);
    expect(Array.from(set.imagesOfClass(3))).toEqual([12, 13, 14, 15]);
    expect(Array.from(set.classesOfGroup(1))).toEqual([2, 3, 4]);
    expect(set.groupOfImage(19)).toBe(1);
    expect(set.drawerIds()).toEqual([0, 1, 2, 3]);
  });

  it('refuses a class without images, naming it', () => {
    expect(
      () =>
        new ImageSet({
          pixels: tensor(new Uint8Array(2 * 4), { shape: [2, 1, 2, 2], dtype: 'uint8' }),
          labels: Int32Array.from([0, 0]),
          classNames: ['a', 'empty'],
          classGroup: Int32Array.from([0, 0]),
          groupNames: [''],
          paths: ['x', 'y'],
          preprocessing: { size: 2, invert: true },
        }),
    ).toThrow(
      expect.objectContaining({ code: 'ERR_DATASET', message: expect.stringMatching(/class 'empty'.*has no images/) }),
    );
  });

  it('refuses pixels that are not uint8 [N, 1, S, S]', () => {
    expect(
      () =>
        new ImageSet({
          pixels: tensor(new Float32Array(8), { shape: [2, 1, 2, 2] }),
          labels: Int32Array.from([0, 0]),
          classNames: ['a'],
          classGroup: Int32Array.from([0]),
          groupNames: [''],
          paths: ['x', 'y'],
          preprocessing: { size: 2, invert: true },
        }),
    ).toThrow(/pixels must be uint8 \[2, 1, 2, 2\]; got float32/);
  });
});

describe('ImageSet#batch()', () => {
  it('returns float32 [B, 1, S, S] in [0, 1] in the order asked', () => {
    const set = syntheticSet([2], 3, { size: 2 });
    const x = tidy(() => set.batch([5, 0, 5]));
    expect(x.shape).toEqual([3, 1, 2, 2]);
    expect(x.dtype).toBe('float32');
    const values = x.toArray();
    expect(values.slice(0, 4)).toEqual([5 / 255, 5 / 255, 5 / 255, 5 / 255].map((v) => Math.fround(v)));
    expect(values.slice(4, 8)).toEqual([0, 0, 0, 0]);
  });

  it('refuses an index outside the set', () => {
    const set = syntheticSet([2], 3);
    expect(() => set.batch([6])).toThrow(/image index 6 is outside \[0, 6\)/);
  });
});

describe('ImageSet#subset()', () => {
  it('drops and renumbers emptied classes and groups, keeping their order and the pixels', () => {
    const set = syntheticSet([2, 2, 1], 2);
    // images 4..7 are group 1 (classes 2, 3); image 9 is group 2 (class 4)
    const sub = set.subset([9, 4, 6]);
    expect(sub.size).toBe(3);
    expect(sub.classNames).toEqual(['g1/c0', 'g1/c1', 'g2/c0']);
    expect(sub.groupNames).toEqual(['g1', 'g2']);
    expect(Array.from(sub.labels)).toEqual([2, 0, 1]);
    expect(Array.from(sub.classGroup)).toEqual([0, 0, 1]);
    expect(sub.paths).toEqual(['image9.png', 'image4.png', 'image6.png']);
    expect(sub.imageData(0)[0]).toBe(9);
  });

  it('selects whole classes, groups and drawers', () => {
    const set = syntheticSet([2, 3], 4);
    expect(set.selectClasses([4, 1]).classNames).toEqual(['g0/c1', 'g1/c2']);
    expect(set.selectGroups([1]).numClasses).toBe(3);
    const drawers = set.selectDrawers([0, 2]);
    expect(drawers.size).toBe(10);
    expect(drawers.numClasses).toBe(5);
    expect(new Set(drawers.drawers)).toEqual(new Set([0, 2]));
  });

  it('drops classes below a minimum size with withMinImages()', () => {
    const set = syntheticSet([3], (c) => c + 1);
    expect(set.withMinImages(2).classNames).toEqual(['g0/c1', 'g0/c2']);
    expect(set.withMinImages(1)).toBe(set);
    expect(() => set.withMinImages(9)).toThrow(/no class of synthetic has 9 or more images/);
  });
});

describe('concatImageSets()', () => {
  it('keeps classes and groups of each set apart', () => {
    const a = syntheticSet([2], 2);
    const b = syntheticSet([1], 3);
    const joined = concatImageSets([a, b]);
    expect(joined.size).toBe(7);
    expect(joined.numClasses).toBe(3);
    expect(joined.groupNames).toEqual(['g0', 'g0 (synthetic)']);
    expect(Array.from(joined.labels)).toEqual([0, 0, 1, 1, 2, 2, 2]);
  });
});
