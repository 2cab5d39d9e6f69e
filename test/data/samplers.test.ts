import { describe, expect, it } from 'vitest';
import { EpisodeSampler, PKSampler, PairSampler } from '../../src/data/samplers.js';
import { kochOneShotTasks } from '../../src/data/one-shot.js';
import { syntheticSet } from './helpers.js';

describe('PairSampler#next()', () => {
  const set = syntheticSet([5, 4, 3], 6);

  it('is balanced: exactly half same-class pairs, with targets that match the labels', () => {
    const sampler = new PairSampler(set, { batchSize: 128, seed: 1 });
    for (const batch of sampler.take(20)) {
      let same = 0;
      for (let i = 0; i < 128; i++) {
        const isSame = set.labels[batch.left[i]!] === set.labels[batch.right[i]!];
        expect(batch.targets[i]).toBe(isSame ? 1 : 0);
        if (isSame) same++;
      }
      expect(same).toBe(64);
    }
  });

  it('never pairs an image with itself', () => {
    const sampler = new PairSampler(syntheticSet([3], 2), { batchSize: 64, seed: 2 });
    for (const batch of sampler.take(50)) for (let i = 0; i < 64; i++) expect(batch.left[i]).not.toBe(batch.right[i]);
  });

  it('draws every class for positives and covers other-group negatives by default', () => {
    const sampler = new PairSampler(set, { batchSize: 100, seed: 3 });
    const positiveClasses = new Set<number>();
    let crossGroup = 0;
    for (const b of sampler.take(20)) {
      for (let i = 0; i < 100; i++) {
        if (b.targets[i] === 1) positiveClasses.add(set.labels[b.left[i]!]!);
        else if (set.groupOfImage(b.left[i]!) !== set.groupOfImage(b.right[i]!)) crossGroup++;
      }
    }
    expect(positiveClasses.size).toBe(12);
    expect(crossGroup).toBeGreaterThan(300);
  });

  it('takes negatives from the same group when asked', () => {
    const sampler = new PairSampler(set, { batchSize: 128, seed: 4, sameGroupNegatives: true });
    for (const b of sampler.take(10)) {
      for (let i = 0; i < 128; i++) {
        if (b.targets[i] === 1) continue;
        expect(set.groupOfImage(b.left[i]!)).toBe(set.groupOfImage(b.right[i]!));
        expect(set.labels[b.left[i]!]).not.toBe(set.labels[b.right[i]!]);
      }
    }
  });

  it('gives the same batches for the same seed, and resumes exactly from a saved state', () => {
    const a = new PairSampler(set, { batchSize: 32, seed: 5 });
    const b = new PairSampler(set, { batchSize: 32, seed: 5 });
    expect(a.next()).toEqual(b.next());
    expect(new PairSampler(set, { batchSize: 32, seed: 6 }).next()).not.toEqual(
      new PairSampler(set, { batchSize: 32, seed: 5 }).next(),
    );
    a.take(3);
    const state = JSON.parse(JSON.stringify(a.getState()));
    const expected = a.take(2);
    const resumed = new PairSampler(set, { batchSize: 32, seed: 999 }).setState(state);
    expect(resumed.take(2)).toEqual(expected);
    expect(resumed.batches).toBe(6);
  });

  it('refuses a class with one image when same-class pairs are needed, naming it', () => {
    const small = syntheticSet([3], (c) => (c === 1 ? 1 : 4));
    expect(() => new PairSampler(small, { batchSize: 8 })).toThrow(
      expect.objectContaining({
        code: 'ERR_DATASET',
        message: expect.stringMatching(/needs 2 images per class, but class 'g0\/c1' has 1.*withMinImages\(2\)/),
      }),
    );
    expect(() => new PairSampler(small, { batchSize: 8, positiveFraction: 0 })).not.toThrow();
  });

  it('refuses a state from another sampler', () => {
    const pk = new PKSampler(set, { p: 2, k: 2 });
    expect(() => new PairSampler(set, { batchSize: 4 }).setState(pk.getState())).toThrow(/state is from PKSampler/);
  });
});

describe('PKSampler#next()', () => {
  it('gives P distinct classes with K distinct images each', () => {
    const set = syntheticSet([6, 6], 5);
    const sampler = new PKSampler(set, { p: 8, k: 4, seed: 1 });
    for (const { indices, labels } of sampler.take(30)) {
      expect(indices).toHaveLength(32);
      expect(new Set(indices).size).toBe(32);
      const classes = new Set(labels);
      expect(classes.size).toBe(8);
      for (let i = 0; i < 32; i++) expect(set.labels[indices[i]!]).toBe(labels[i]);
      for (const c of classes) expect(labels.filter((l) => l === c)).toHaveLength(4);
    }
  });

  it('explains when there are too few classes or images', () => {
    const set = syntheticSet([3], 3);
    expect(() => new PKSampler(set, { p: 4, k: 2 })).toThrow(/p = 4 classes per batch, but synthetic has 3/);
    expect(() => new PKSampler(set, { p: 2, k: 4 })).toThrow(/needs 4 images per class/);
  });
});

describe('EpisodeSampler#next()', () => {
  it('draws N classes with K support and Q query images, no query also in the support', () => {
    const set = syntheticSet([8, 8], 20);
    const sampler = new EpisodeSampler(set, { way: 5, shot: 1, query: 3, seed: 1 });
    for (const e of sampler.take(20)) {
      expect(new Set(e.classes).size).toBe(5);
      expect(e.support).toHaveLength(5);
      expect(e.query).toHaveLength(15);
      const support = new Set(e.support);
      for (let i = 0; i < 15; i++) {
        expect(support.has(e.query[i]!)).toBe(false);
        expect(set.labels[e.query[i]!]).toBe(e.classes[e.queryLabels[i]!]);
      }
      for (let i = 0; i < 5; i++) expect(set.labels[e.support[i]!]).toBe(e.classes[e.supportLabels[i]!]);
      expect(e.group).toBe(-1);
    }
  });

  it('keeps every class of an episode in one group when withinGroup is set, skipping small groups', () => {
    const set = syntheticSet([3, 6, 7], 4);
    const sampler = new EpisodeSampler(set, { way: 5, shot: 2, query: 2, withinGroup: true, seed: 2 });
    expect(Array.from(sampler.eligibleGroups)).toEqual([1, 2]);
    const groups = new Set<number>();
    for (const e of sampler.take(30)) {
      for (const c of e.classes) expect(set.classGroup[c]).toBe(e.group);
      groups.add(e.group);
    }
    expect(groups).toEqual(new Set([1, 2]));
  });

  it('explains impossible episodes', () => {
    const set = syntheticSet([3, 4], 4);
    expect(() => new EpisodeSampler(set, { way: 5, shot: 1, withinGroup: true })).toThrow(
      /need a group with 5 classes; the largest in synthetic has 4/,
    );
    expect(() => new EpisodeSampler(set, { way: 5, shot: 4, query: 1 })).toThrow(/needs 5 images per class/);
  });
});

describe('kochOneShotTasks()', () => {
  it("pairs drawer A's 20 characters with drawer B's 20, one task = 20 trials", () => {
    const set = syntheticSet([25, 12, 20], 20);
    const tasks = kochOneShotTasks(set, { seed: 1 });
    // group 1 has fewer than 20 classes: left out
    expect(tasks.map((t) => t.group)).toEqual([0, 0, 2, 2]);
    for (const task of tasks) {
      expect(task.support).toHaveLength(20);
      expect(task.queries).toHaveLength(20);
      const drawerA = set.drawers[task.queries[0]!];
      const drawerB = set.drawers[task.support[0]!];
      expect(drawerA).not.toBe(drawerB);
      const classes = new Set<number>();
      for (let q = 0; q < 20; q++) {
        expect(set.drawers[task.queries[q]!]).toBe(drawerA);
        expect(set.drawers[task.support[q]!]).toBe(drawerB);
        expect(set.labels[task.support[task.answers[q]!]!]).toBe(set.labels[task.queries[q]!]);
        expect(set.groupOfImage(task.queries[q]!)).toBe(task.group);
        classes.add(set.labels[task.support[q]!]!);
      }
      expect(classes.size).toBe(20);
    }
    expect(kochOneShotTasks(set, { seed: 1 })).toEqual(tasks);
  });

  it('needs drawers', () => {
    expect(() => kochOneShotTasks(syntheticSet([20], 2, { drawers: false }))).toThrow(/no drawer information/);
  });
});
