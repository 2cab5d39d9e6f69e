import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { loadImageFolder } from '../../src/data/image-folder.js';
import { glyph, glyphPng, tempDir, warnings, writeTree } from './helpers.js';

async function colourJpeg(classId: number): Promise<Uint8Array> {
  const gray = glyph(classId, 1, 30);
  const rgb = new Uint8Array(30 * 30 * 3);
  // Red strokes on a white page.
  for (let i = 0; i < gray.length; i++) rgb.set(gray[i] === 0 ? [200, 0, 0] : [255, 255, 255], i * 3);
  return new Uint8Array(
    await sharp(Buffer.from(rgb), { raw: { width: 30, height: 30, channels: 3 } })
      .jpeg({ quality: 95 })
      .toBuffer(),
  );
}

describe('loadImageFolder()', () => {
  it('reads root/<class>/* with PNG and colour JPEG files, in name order', async () => {
    const root = writeTree(tempDir(), {
      'cat/2.png': glyphPng(1, 2),
      'cat/10.png': glyphPng(1, 10),
      'dog/a.jpg': await colourJpeg(2),
      'dog/b.JPEG': await colourJpeg(3),
      'dog/c.png': glyphPng(2, 1),
    });
    const set = await loadImageFolder(root, { size: 24, cache: false, invert: true });
    expect(set.classNames).toEqual(['cat', 'dog']);
    expect(set.groupNames).toEqual(['']);
    expect(set.size).toBe(5);
    expect(set.paths.map((p) => path.relative(root, p))).toEqual([
      'cat/2.png',
      'cat/10.png',
      'dog/a.jpg',
      'dog/b.JPEG',
      'dog/c.png',
    ]);
    expect(Array.from(set.drawers)).toEqual([-1, -1, -1, -1, -1]);
    // The colour JPEG became one gray channel: paper near 0 after inversion, strokes clearly brighter.
    const jpeg = set.imageData(2);
    expect(jpeg[0]).toBeLessThan(10);
    expect(Math.max(...jpeg)).toBeGreaterThan(80);
  });

  it('reads root/<group>/<class>/* with groups, naming classes group/class', async () => {
    const root = writeTree(tempDir(), {
      'latin/a/1.png': glyphPng(1, 1),
      'latin/b/1.png': glyphPng(2, 1),
      'greek/a/1.png': glyphPng(3, 1),
      'greek/a/2.png': glyphPng(3, 2),
    });
    const set = await loadImageFolder(root, { size: 16, cache: false });
    expect(set.groupNames).toEqual(['greek', 'latin']);
    expect(set.classNames).toEqual(['greek/a', 'latin/a', 'latin/b']);
    expect(Array.from(set.classGroup)).toEqual([0, 1, 1]);
    expect(set.preprocessing.invert).toBe(false);
  });

  it('skips a corrupt image and a non-image file with warnings that name them', async () => {
    const files: Record<string, Uint8Array | string> = {
      'x/notes.txt': 'hello',
      'y/broken.png': glyphPng(9, 1).subarray(0, 60),
    };
    for (let i = 0; i < 12; i++) files[`${i % 2 ? 'x' : 'y'}/${i}.png`] = glyphPng(i % 2, i);
    const root = writeTree(tempDir(), files);
    const { messages, onWarning } = warnings();
    const set = await loadImageFolder(root, { size: 16, cache: false, onWarning });
    expect(set.size).toBe(12);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatch(/ignored 1 files .* not images: x\/notes\.txt/);
    expect(messages[1]).toMatch(/skipped 1 of 13 files/);
    expect(messages[1]).toContain(path.join(root, 'y/broken.png'));
  });

  it('refuses a folder that is mostly corrupt', async () => {
    const root = writeTree(tempDir(), { 'a/1.png': 'x', 'a/2.png': 'y', 'b/1.png': glyphPng(1, 1) });
    await expect(loadImageFolder(root, { cache: false, onWarning: () => {} })).rejects.toThrow(
      /2 of 3 files .* could not be decoded/,
    );
  });

  it('refuses a class whose only images are unreadable, naming it', async () => {
    const files: Record<string, Uint8Array | string> = { 'lost/only.png': 'garbage' };
    for (let i = 0; i < 20; i++) files[`fine/${i}.png`] = glyphPng(1, i);
    const root = writeTree(tempDir(), files);
    await expect(loadImageFolder(root, { cache: false, onWarning: () => {} })).rejects.toThrow(
      /class 'lost' .* has no readable image .*only\.png/,
    );
  });

  it('explains every wrong layout', async () => {
    await expect(loadImageFolder(path.join(tempDir(), 'missing'))).rejects.toThrow(/does not exist/);
    const stray = writeTree(tempDir(), { 'a.png': glyphPng(1, 1), 'b/1.png': glyphPng(1, 1) });
    await expect(loadImageFolder(stray, { cache: false })).rejects.toThrow(
      /images directly inside it \(e\.g\. a\.png\), so they have no class/,
    );
    const empty = tempDir();
    fs.mkdirSync(path.join(empty, 'a'));
    writeTree(empty, { 'b/1.png': glyphPng(1, 1) });
    await expect(loadImageFolder(empty, { cache: false })).rejects.toThrow(
      expect.objectContaining({
        code: 'ERR_DATASET',
        message: expect.stringMatching(/class folder .*\/a has no images/),
      }),
    );
    const mixed = writeTree(tempDir(), { 'a/1.png': glyphPng(1, 1), 'g/c/1.png': glyphPng(1, 1) });
    await expect(loadImageFolder(mixed, { cache: false })).rejects.toThrow(
      /mixes layouts: a\/ holds images but g\/ holds folders/,
    );
    const deep = writeTree(tempDir(), { 'g/c/d/1.png': glyphPng(1, 1) });
    await expect(loadImageFolder(deep, { cache: false })).rejects.toThrow(
      /deeper than root\/<group>\/<class>\/<image>/,
    );
    await expect(loadImageFolder(tempDir(), { cache: false })).rejects.toThrow(/has no class folders/);
  });
});
