import { describe, expect, it } from 'vitest';
import { drawerSplit, splitByClass, splitByGroup, splitCounts } from '../../src/data/splits.js';
import { syntheticSet } from './helpers.js';

describe('splitCounts()', () => {
  it('turns fractions into counts that add up (largest remainder)', () => {
    expect(splitCounts({ train: 0.7, validation: 0.2, test: 0.1 }, 11)).toEqual({ train: 8, validation: 2, test: 1 });
    expect(splitCounts({ train: 24, validation: 6 }, 30)).toEqual({ train: 24, validation: 6 });
  });

  it('refuses counts that do not match and parts that would be empty', () => {
    expect(() => splitCounts({ train: 20, validation: 6 }, 30)).toThrow(/add up to 26, but there are 30/);
    expect(() => splitCounts({ train: 0.99, validation: 0.01 }, 10, 'groups')).toThrow(
      /'validation' .* would get none of the 10 groups/,
    );
    expect(() => splitCounts({ train: 0.5, validation: 0.2 }, 10)).toThrow(/add up to 1/);
  });
});

describe('splitByClass()', () => {
  it('puts every class in exactly one part, with all its images', () => {
    const set = syntheticSet([10, 10], 3);
    const parts = splitByClass(set, { train: 0.6, validation: 0.2, test: 0.2 }, { seed: 4 });
    const seen = new Map<string, string>();
    let images = 0;
    for (const [name, part] of Object.entries(parts)) {
      for (const c of part.classNames) {
        expect(seen.has(c)).toBe(false);
        seen.set(c, name);
      }
      for (let c = 0; c < part.numClasses; c++) expect(part.countOfClass(c)).toBe(3);
      images += part.size;
    }
    expect(seen.size).toBe(20);
    expect(images).toBe(60);
    expect(parts.train!.numClasses).toBe(12);
  });

  it('gives the same split for the same seed and another for another seed', () => {
    const set = syntheticSet([30], 2);
    const a = splitByClass(set, { train: 0.5, test: 0.5 }, { seed: 1 });
    const b = splitByClass(set, { train: 0.5, test: 0.5 }, { seed: 1 });
    const c = splitByClass(set, { train: 0.5, test: 0.5 }, { seed: 2 });
    expect(a.train!.classNames).toEqual(b.train!.classNames);
    expect(a.train!.classNames).not.toEqual(c.train!.classNames);
  });
});

describe('splitByGroup()', () => {
  it('carves validation groups out whole: no group or class in two parts', () => {
    const set = syntheticSet([3, 4, 5, 2, 6, 1], 2);
    const { train, validation } = splitByGroup(set, { train: 4, validation: 2 }, { seed: 9 });
    expect(train!.numGroups).toBe(4);
    expect(validation!.numGroups).toBe(2);
    const trainGroups = new Set(train!.groupNames);
    expect(validation!.groupNames.some((g) => trainGroups.has(g))).toBe(false);
    const trainClasses = new Set(train!.classNames);
    expect(validation!.classNames.some((c) => trainClasses.has(c))).toBe(false);
    expect(train!.numClasses + validation!.numClasses).toBe(21);
  });
});

describe('drawerSplit()', () => {
  it('splits 20 drawers 12 / 4 / 4 with every class in every part and no drawer shared', () => {
    const set = syntheticSet([3, 2], 20);
    const { train, validation, test } = drawerSplit(set, { seed: 3 });
    expect(train.drawerIds()).toHaveLength(12);
    expect(validation.drawerIds()).toHaveLength(4);
    expect(test.drawerIds()).toHaveLength(4);
    const all = [...train.drawerIds(), ...validation.drawerIds(), ...test.drawerIds()];
    expect(new Set(all).size).toBe(20);
    for (const part of [train, validation, test]) expect(part.classNames).toEqual(set.classNames);
    expect(drawerSplit(set, { seed: 3 }).test.drawerIds()).toEqual(test.drawerIds());
    expect(drawerSplit(set, { shuffle: false }).validation.drawerIds()).toEqual([12, 13, 14, 15]);
  });

  it('explains when the set has no drawers or too few', () => {
    expect(() => drawerSplit(syntheticSet([2], 3, { drawers: false }))).toThrow(/no drawer information/);
    expect(() => drawerSplit(syntheticSet([2], 10))).toThrow(/needs 20 drawers \(12 \+ 4 \+ 4\); synthetic has 10/);
  });
});
