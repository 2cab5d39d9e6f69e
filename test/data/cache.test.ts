import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheFile, defaultCacheDir, readCachedSet, writeCachedSet } from '../../src/data/cache.js';
import { loadImageFolder } from '../../src/data/image-folder.js';
import { glyphPng, syntheticSet, tempDir, writeTree } from './helpers.js';

function cachedFiles(dir: string): string[] {
  const sets = path.join(dir, 'sets');
  return fs.existsSync(sets) ? fs.readdirSync(sets).map((f) => path.join(sets, f)) : [];
}

describe('writeCachedSet()', () => {
  it('round-trips pixels and every label, name and path', () => {
    const set = syntheticSet([2, 1], 3, { size: 5 });
    const file = cacheFile(tempDir(), 'test', 'abc');
    writeCachedSet(file, 'abc', set);
    const back = readCachedSet(file, 'abc')!;
    expect(back).not.toBeNull();
    expect(back.pixels.toArray()).toEqual(set.pixels.toArray());
    expect(Array.from(back.labels)).toEqual(Array.from(set.labels));
    expect(back.classNames).toEqual(set.classNames);
    expect(Array.from(back.classGroup)).toEqual(Array.from(set.classGroup));
    expect(Array.from(back.drawers)).toEqual(Array.from(set.drawers));
    expect(back.paths).toEqual(set.paths);
    expect(back.preprocessing).toEqual(set.preprocessing);
    expect(readCachedSet(file, 'another key')).toBeNull();
  });
});

describe('readCachedSet()', () => {
  it('ignores a truncated, overwritten or bit-flipped file', () => {
    const set = syntheticSet([2], 4, { size: 6 });
    const file = cacheFile(tempDir(), 'test', 'k');
    writeCachedSet(file, 'k', set);
    const good = fs.readFileSync(file);
    fs.writeFileSync(file, good.subarray(0, good.length - 7));
    expect(readCachedSet(file, 'k')).toBeNull();
    fs.writeFileSync(file, Buffer.from('garbage that is not a cache file at all'));
    expect(readCachedSet(file, 'k')).toBeNull();
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3]! ^= 1;
    fs.writeFileSync(file, flipped);
    expect(readCachedSet(file, 'k')).toBeNull();
    fs.writeFileSync(file, good);
    expect(readCachedSet(file, 'k')).not.toBeNull();
    expect(readCachedSet(path.join(tempDir(), 'absent.twset'), 'k')).toBeNull();
  });
});

describe('defaultCacheDir()', () => {
  const saved = process.env.TWINSHOT_CACHE;
  afterEach(() => {
    if (saved === undefined) delete process.env.TWINSHOT_CACHE;
    else process.env.TWINSHOT_CACHE = saved;
  });

  it('follows $TWINSHOT_CACHE, else ~/.cache/twinshot', () => {
    process.env.TWINSHOT_CACHE = '/tmp/somewhere';
    expect(defaultCacheDir()).toBe('/tmp/somewhere');
    delete process.env.TWINSHOT_CACHE;
    expect(defaultCacheDir()).toMatch(/twinshot$/);
  });
});

describe('loaders with a cache', () => {
  it('decode once, read the cache next time, decode again when a file changes or the cache is damaged', async () => {
    const root = writeTree(tempDir(), {
      'a/1.png': glyphPng(1, 1),
      'a/2.png': glyphPng(1, 2),
      'b/1.png': glyphPng(2, 1),
    });
    const cache = tempDir('twinshot-cache-');
    let decodes = 0;
    const load = () => loadImageFolder(root, { size: 12, cache, onProgress: () => decodes++ });

    const first = await load();
    expect(decodes).toBeGreaterThan(0);
    expect(cachedFiles(cache)).toHaveLength(1);
    decodes = 0;
    const second = await load();
    expect(decodes).toBe(0);
    expect(second.pixels.toArray()).toEqual(first.pixels.toArray());

    // Another size is another cache entry.
    await loadImageFolder(root, { size: 10, cache });
    expect(cachedFiles(cache)).toHaveLength(2);

    // A changed image (new size and mtime) changes the key.
    fs.writeFileSync(path.join(root, 'b/1.png'), glyphPng(3, 1));
    decodes = 0;
    const third = await load();
    expect(decodes).toBeGreaterThan(0);
    expect(third.imageData(2)).not.toEqual(first.imageData(2));

    // A damaged cache file is ignored and rewritten.
    const [file] = cachedFiles(cache).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
    fs.writeFileSync(file!, 'damaged');
    decodes = 0;
    const fourth = await load();
    expect(decodes).toBeGreaterThan(0);
    expect(fourth.pixels.toArray()).toEqual(third.pixels.toArray());
    expect(fs.readFileSync(file!, 'latin1').startsWith('TWSET')).toBe(true);
  });

  it('writes nothing with cache: false', async () => {
    const root = writeTree(tempDir(), { 'a/1.png': glyphPng(1, 1) });
    const cache = tempDir('twinshot-cache-');
    const saved = process.env.TWINSHOT_CACHE;
    process.env.TWINSHOT_CACHE = cache;
    try {
      await loadImageFolder(root, { size: 8, cache: false });
      expect(cachedFiles(cache)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TWINSHOT_CACHE;
      else process.env.TWINSHOT_CACHE = saved;
    }
  });
});
