import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readOneShotRuns } from '../../src/data/one-shot.js';
import { glyphPng, tempDir, writeTree, writeZip } from './helpers.js';

/**
 * The release's all_runs layout: runNN/class_labels.txt, runNN/training/classYY.png (one image per
 * class) and runNN/test/itemXX.png, item XX being of class answer(XX).
 */
function runEntries(runs: number, way: number): Record<string, Uint8Array> {
  const entries: Record<string, Uint8Array> = {};
  for (let r = 1; r <= runs; r++) {
    const run = `run${String(r).padStart(2, '0')}`;
    const lines: string[] = [];
    for (let i = 1; i <= way; i++) {
      const item = String(i).padStart(2, '0');
      const answer = String(((i * 7) % way) + 1).padStart(2, '0');
      entries[`${run}/training/class${item}.png`] = glyphPng(r * 100 + i, 1, 30);
      entries[`${run}/test/item${item}.png`] = glyphPng(r * 100 + Number(answer), 2, 30);
      lines.push(`${run}/test/item${item}.png ${run}/training/class${answer}.png`);
    }
    entries[`${run}/class_labels.txt`] = new TextEncoder().encode(lines.join('\n') + '\n');
  }
  return entries;
}

describe('readOneShotRuns()', () => {
  it('reads 20-way runs from a folder: one task per run, answers pointing at the right class', async () => {
    const root = writeTree(tempDir(), runEntries(2, 20));
    const { set, tasks } = await readOneShotRuns(root, { size: 20 });
    expect(tasks).toHaveLength(2);
    expect(set.size).toBe(80);
    expect(set.numClasses).toBe(40);
    expect(set.groupNames).toEqual(['run01', 'run02']);
    for (const [r, task] of tasks.entries()) {
      expect(task.name).toBe(`run0${r + 1}`);
      expect(task.support).toHaveLength(20);
      expect(task.queries).toHaveLength(20);
      for (let q = 0; q < 20; q++) {
        const supportImage = task.support[task.answers[q]!]!;
        expect(set.labels[supportImage]).toBe(set.labels[task.queries[q]!]);
        // item q+1 answers class ((q+1)*7 % 20) + 1
        expect(path.basename(set.paths[supportImage]!)).toBe(
          `class${String((((q + 1) * 7) % 20) + 1).padStart(2, '0')}.png`,
        );
        expect(path.basename(set.paths[task.queries[q]!]!)).toBe(`item${String(q + 1).padStart(2, '0')}.png`);
      }
      expect(new Set(Array.from(task.support, (i) => set.labels[i])).size).toBe(20);
    }
  });

  it('reads the same runs from a zip, nested under a folder, or from the folder above', async () => {
    const entries = runEntries(1, 5);
    const zipped = Object.fromEntries(Object.entries(entries).map(([k, v]) => [`all_runs/${k}`, v]));
    const zip = writeZip(path.join(tempDir(), 'all_runs.zip'), zipped);
    const fromZip = await readOneShotRuns(zip, { size: 12 });
    const parent = tempDir();
    writeTree(path.join(parent, 'all_runs'), entries);
    const fromFolder = await readOneShotRuns(parent, { size: 12 });
    expect(fromZip.tasks).toEqual(fromFolder.tasks);
    expect(fromZip.set.pixels.toArray()).toEqual(fromFolder.set.pixels.toArray());
  });

  it('explains a missing layout, a missing image and a malformed line', async () => {
    await expect(readOneShotRuns(tempDir())).rejects.toThrow(
      /no one-shot runs found in .*; expected runNN\/class_labels\.txt/,
    );
    const missing = runEntries(1, 3);
    delete missing['run01/test/item02.png'];
    await expect(readOneShotRuns(writeTree(tempDir(), missing))).rejects.toThrow(
      /item02\.png, listed in class_labels\.txt, does not exist/,
    );
    const malformed = runEntries(1, 3);
    malformed['run01/class_labels.txt'] = new TextEncoder().encode('run01/test/item01.png\n');
    await expect(readOneShotRuns(writeTree(tempDir(), malformed))).rejects.toThrow(
      expect.objectContaining({ code: 'ERR_FORMAT', message: expect.stringMatching(/class_labels\.txt:1: expected/) }),
    );
    const corrupt = runEntries(1, 3);
    corrupt['run01/training/class01.png'] = new TextEncoder().encode('nope');
    await expect(readOneShotRuns(writeTree(tempDir(), corrupt), { onWarning: () => {} })).rejects.toThrow(
      /1 of 6 files .* could not be decoded/,
    );
  });
});
