import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOmniglot, locateOmniglot, omniglotDrawer } from '../../src/data/omniglot.js';
import { Rng } from '../../src/data/random.js';
import { PairSampler } from '../../src/data/samplers.js';
import { kochOneShotTasks } from '../../src/data/one-shot.js';
import { drawerSplit } from '../../src/data/splits.js';
import { OMNIGLOT_DIR, glyphPng, omniglotEntries, tempDir, warnings, writeTree, writeZip } from './helpers.js';
import { needs, OMNIGLOT } from '../helpers/prerequisites.js';

function shuffledEntries(entries: Record<string, Uint8Array>, seed: number): Record<string, Uint8Array> {
  const names = new Rng(seed).shuffle(Object.keys(entries));
  return Object.fromEntries(names.map((n) => [n, entries[n]!]));
}

/** A miniature release: background 2 alphabets (3 + 2 characters), evaluation 1 alphabet (2), 4 drawers. */
function miniOmniglot(): string {
  const dir = tempDir();
  writeZip(path.join(dir, 'images_background.zip'), shuffledEntries(omniglotEntries([3, 2], 4), 1));
  writeZip(
    path.join(dir, 'images_evaluation.zip'),
    omniglotEntries([2], 4, 'images_evaluation', { firstAlphabet: 2, firstId: 6 }),
  );
  return dir;
}

describe('omniglotDrawer()', () => {
  it('reads the 0-based drawer from NNNN_DD.png', () => {
    expect(omniglotDrawer('0709_01.png')).toBe(0);
    expect(omniglotDrawer('1623_20.png')).toBe(19);
    expect(omniglotDrawer('scan.png')).toBe(-1);
  });
});

describe('loadOmniglot()', () => {
  it('reads a release zip: alphabets as groups, characters as classes, drawers from file names', async () => {
    const set = await loadOmniglot({ source: miniOmniglot(), size: 20, cache: false });
    expect(set.size).toBe(20);
    expect(set.groupNames).toEqual(['Alphabet_A', 'Alphabet_B']);
    expect(set.classNames).toEqual([
      'Alphabet_A/character01',
      'Alphabet_A/character02',
      'Alphabet_A/character03',
      'Alphabet_B/character01',
      'Alphabet_B/character02',
    ]);
    expect(Array.from(set.classGroup)).toEqual([0, 0, 0, 1, 1]);
    // Sorted whatever the zip's entry order: class by class, drawer by drawer.
    expect(Array.from(set.drawers.subarray(0, 4))).toEqual([0, 1, 2, 3]);
    expect(set.paths[0]).toMatch(/images_background\.zip:images_background\/Alphabet_A\/character01\/0001_01\.png$/);
    expect(set.preprocessing).toEqual({ size: 20, invert: true });
    // Inverted: the background is 0, strokes are bright.
    const pixels = set.imageData(0);
    expect(pixels[0]).toBe(0);
    expect(Math.max(...pixels)).toBe(255);
  });

  it('loads the evaluation half, both halves, a zip given directly, and an extracted folder alike', async () => {
    const dir = miniOmniglot();
    const evaluation = await loadOmniglot({ source: dir, split: 'evaluation', size: 16, cache: false });
    expect(evaluation.numClasses).toBe(2);
    const all = await loadOmniglot({ source: dir, split: 'all', size: 16, cache: false });
    expect(all.numGroups).toBe(3);
    expect(all.size).toBe(28);
    const zip = await loadOmniglot({ source: path.join(dir, 'images_evaluation.zip'), size: 16, cache: false });
    expect(Array.from(zip.imageData(3))).toEqual(Array.from(evaluation.imageData(3)));
    const extracted = writeTree(
      tempDir(),
      omniglotEntries([2], 4, 'images_evaluation', { firstAlphabet: 2, firstId: 6 }),
    );
    const folder = await loadOmniglot({ source: path.join(extracted, 'images_evaluation'), size: 16, cache: false });
    expect(folder.classNames).toEqual(evaluation.classNames);
    expect(Array.from(folder.drawers)).toEqual(Array.from(evaluation.drawers));
    expect(Array.from(folder.imageData(5))).toEqual(Array.from(evaluation.imageData(5)));
    const parent = await loadOmniglot({ source: extracted, split: 'evaluation', size: 16, cache: false });
    expect(parent.size).toBe(8);
  });

  it('skips a corrupt image with a warning naming it and the count, and ignores stray files', async () => {
    const entries = omniglotEntries([3, 2], 4);
    const bad = 'images_background/Alphabet_B/character02/0005_03.png';
    entries[bad] = entries[bad]!.subarray(0, 50);
    entries['images_background/README.txt'] = new TextEncoder().encode('hello');
    const dir = tempDir();
    writeZip(path.join(dir, 'images_background.zip'), entries);
    const { messages, onWarning } = warnings();
    const set = await loadOmniglot({ source: dir, size: 12, cache: false, onWarning });
    expect(set.size).toBe(19);
    expect(set.countOfClass(set.classIndex('Alphabet_B/character02'))).toBe(3);
    expect(messages.some((m) => /ignored 1 files .* not PNG images: images_background\/README\.txt/.test(m))).toBe(
      true,
    );
    const skipped = messages.find((m) => m.startsWith('skipped'));
    expect(skipped).toMatch(/skipped 1 of 20 files/);
    expect(skipped).toContain('0005_03.png');
    expect(set.skipped.map((s) => path.basename(s.path))).toEqual(['0005_03.png']);
  });

  it('refuses a set that is mostly undecodable', async () => {
    const entries = omniglotEntries([2], 3);
    for (const name of Object.keys(entries)) entries[name] = new TextEncoder().encode('not a png');
    const dir = tempDir();
    writeZip(path.join(dir, 'images_background.zip'), entries);
    await expect(loadOmniglot({ source: dir, size: 12, cache: false, onWarning: () => {} })).rejects.toThrow(
      /6 of 6 files .* could not be decoded/,
    );
  });

  it('explains a missing zip, a damaged zip and a wrong layout', async () => {
    const dir = tempDir();
    writeZip(path.join(dir, 'images_background.zip'), omniglotEntries([2], 2));
    await expect(loadOmniglot({ source: dir, split: 'evaluation', cache: false })).rejects.toThrow(
      expect.objectContaining({
        code: 'ERR_DATASET',
        message: expect.stringMatching(/images_evaluation\.zip .* was not found .*twinshot data omniglot/),
      }),
    );
    expect(() => locateOmniglot(path.join(dir, 'nowhere'))).toThrow(/does not exist; run `twinshot data omniglot`/);

    const damaged = tempDir();
    const bytes = fs.readFileSync(path.join(dir, 'images_background.zip'));
    fs.writeFileSync(path.join(damaged, 'images_background.zip'), bytes.subarray(0, bytes.length - 100));
    await expect(loadOmniglot({ source: damaged, cache: false })).rejects.toThrow(
      /not a readable zip archive .* download it again/,
    );

    const flat = tempDir();
    writeZip(path.join(flat, 'images_background.zip'), { 'images_background/Alphabet_A/0001_01.png': glyphPng(1, 1) });
    await expect(loadOmniglot({ source: flat, cache: false })).rejects.toThrow(/images outside character folders/);

    const mixed = tempDir();
    writeZip(path.join(mixed, 'images_background.zip'), {
      'images_background/Alphabet_A/character01/0001_01.png': glyphPng(1, 1),
      'images_background/Alphabet_A/character01/extra/0001_02.png': glyphPng(1, 2),
    });
    await expect(loadOmniglot({ source: mixed, cache: false })).rejects.toThrow(
      /images nested deeper than character folders/,
    );

    const clash = tempDir();
    writeZip(path.join(clash, 'images_background.zip'), omniglotEntries([1], 2));
    writeZip(path.join(clash, 'images_evaluation.zip'), omniglotEntries([1], 2, 'images_evaluation'));
    await expect(loadOmniglot({ source: clash, split: 'all', cache: false })).rejects.toThrow(
      /alphabet 'Alphabet_A' is in both/,
    );
  });

  needs(OMNIGLOT).it('loads all 32,460 real images at 28x28, then again from the cache', async () => {
    const cache = tempDir('twinshot-cache-');
    let started = performance.now();
    const decodedCold: number[] = [];
    const cold = await loadOmniglot({
      source: OMNIGLOT_DIR,
      split: 'all',
      size: 28,
      cache,
      onProgress: (done) => decodedCold.push(done),
    });
    const coldSeconds = (performance.now() - started) / 1000;
    expect(cold.size).toBe(32460);
    expect(cold.numClasses).toBe(1623);
    expect(cold.numGroups).toBe(50);
    expect(cold.drawerIds()).toEqual(Array.from({ length: 20 }, (_, i) => i));
    for (let c = 0; c < cold.numClasses; c += 97) {
      expect(cold.countOfClass(c)).toBe(20);
      expect(new Set(Array.from(cold.imagesOfClass(c), (i) => cold.drawers[i])).size).toBe(20);
    }
    expect(cold.groupNames.slice(0, 2)).toEqual(['Alphabet_of_the_Magi', 'Anglo-Saxon_Futhorc']);
    expect(cold.groupNames).toContain('Tengwar');
    started = performance.now();
    const decodedWarm: number[] = [];
    const warm = await loadOmniglot({
      source: OMNIGLOT_DIR,
      split: 'all',
      size: 28,
      cache,
      onProgress: (done) => decodedWarm.push(done),
    });
    const warmSeconds = (performance.now() - started) / 1000;
    expect(warm.size).toBe(32460);
    expect(Array.from(warm.imageData(12345))).toEqual(Array.from(cold.imageData(12345)));
    expect(warm.paths[31000]).toBe(cold.paths[31000]);
    // The second load decodes nothing: it comes from the cache (checked without timing it).
    expect(decodedCold.at(-1)).toBe(32460);
    expect(decodedWarm).toEqual([]);
    console.log(
      `Omniglot 32,460 images at 28x28: ${coldSeconds.toFixed(1)} s decoded, ${warmSeconds.toFixed(2)} s from the cache`,
    );

    // The protocols run on the real set: Koch's tasks and drawer split, same-alphabet negatives.
    const evaluation = warm.selectGroups(Array.from({ length: 20 }, (_, g) => 30 + g));
    expect(evaluation.numClasses).toBe(659);
    const tasks = kochOneShotTasks(evaluation, { seed: 1 });
    expect(tasks).toHaveLength(40); // every evaluation alphabet has at least 20 characters
    for (const task of tasks) expect(new Set(Array.from(task.support, (i) => evaluation.labels[i])).size).toBe(20);
    const { train, test } = drawerSplit(evaluation, { seed: 1 });
    expect(train.size).toBe(659 * 12);
    expect(test.size).toBe(659 * 4);
    const pairs = new PairSampler(evaluation, { batchSize: 128, seed: 1, sameGroupNegatives: true }).next();
    for (let i = 0; i < 128; i++)
      expect(evaluation.groupOfImage(pairs.left[i]!)).toBe(evaluation.groupOfImage(pairs.right[i]!));
    cold.dispose();
    warm.dispose();
  });
});
