// The commands that take many images (embed, gallery enroll and identify): files, folders, quoted
// glob patterns and --files-from (a file, or standard input), in chunks, with a message for every failure.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';
import { resolveImagePaths } from '../../src/cli/image-paths.js';
import { drawSymbol, SYMBOLS } from '../gallery/helpers.js';

const root = path.resolve(import.meta.dirname, '../..');
const startDir = process.cwd();
/** tsx's loader by absolute URL: the command runs in a temporary folder, where `tsx` would not resolve. */
const tsxLoader = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;
let dir: string;

/** Runs `twinshot ...args` in-process and returns what it printed to stdout. */
async function twinshot(...args: string[]): Promise<string> {
  const chunks: string[] = [];
  const log = vi
    .spyOn(console, 'log')
    .mockImplementation((...parts: unknown[]) => void chunks.push(`${parts.join(' ')}\n`));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await buildProgram()
      .exitOverride()
      .parseAsync(['node', 'twinshot', ...args]);
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
  return chunks.join('');
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-cli-images-'));
  // drawings/<symbol>/<n>.png, and a note that is not an image
  for (const [i, kind] of SYMBOLS.slice(0, 3).entries()) {
    fs.mkdirSync(path.join(dir, 'drawings', kind), { recursive: true });
    for (let n = 0; n < 2; n++)
      fs.writeFileSync(path.join(dir, 'drawings', kind, `${n}.png`), await drawSymbol(kind, { dx: 2 * n - i }));
  }
  fs.writeFileSync(path.join(dir, 'drawings', 'notes.txt'), 'not an image');
  fs.mkdirSync(path.join(dir, 'empty'));
  process.chdir(dir);
});
afterAll(() => {
  process.chdir(startDir);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('resolveImagePaths()', () => {
  it('expands folders recursively and quoted patterns, sorted, keeping files as given', async () => {
    const all = await resolveImagePaths(['drawings']);
    expect(all).toEqual([
      'drawings/circle/0.png',
      'drawings/circle/1.png',
      'drawings/cross/0.png',
      'drawings/cross/1.png',
      'drawings/triangle/0.png',
      'drawings/triangle/1.png',
    ]);
    expect(await resolveImagePaths(['drawings/*/1.png', 'drawings/circle/0.png'])).toEqual([
      'drawings/circle/1.png',
      'drawings/cross/1.png',
      'drawings/triangle/1.png',
      'drawings/circle/0.png',
    ]);
    fs.writeFileSync('list.txt', 'drawings/cross/0.png\r\n\ndrawings/circle/1.png\n');
    expect(await resolveImagePaths([], { filesFrom: 'list.txt' })).toEqual([
      'drawings/cross/0.png',
      'drawings/circle/1.png',
    ]);
  });

  it('says what does not exist, matched nothing, or holds no images', async () => {
    await expect(resolveImagePaths(['nope.png'])).rejects.toThrow('image nope.png does not exist');
    await expect(resolveImagePaths(['drawings/**/*.jpg'])).rejects.toThrow(
      'pattern drawings/**/*.jpg matched no files',
    );
    await expect(resolveImagePaths(['empty'])).rejects.toThrow(/folder empty holds no images \(\.png/);
    await expect(resolveImagePaths([])).rejects.toThrow(/no images given: .*--files-from/);
    fs.writeFileSync('bad-list.txt', 'drawings/gone.png\n');
    await expect(resolveImagePaths([], { filesFrom: 'bad-list.txt' })).rejects.toThrow(
      'image drawings/gone.png (listed in --files-from bad-list.txt) does not exist',
    );
    await expect(resolveImagePaths([], { filesFrom: 'missing-list.txt' })).rejects.toThrow(
      /--files-from missing-list\.txt: cannot read it/,
    );
  });
});

describe('twinshot embed', () => {
  it('embeds a folder and a pattern, one JSON line per image, as it embeds each file alone', async () => {
    const lines = (await twinshot('embed', '--model', 'models/omniglot-fast', 'drawings', 'drawings/c*/0.png'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { image: string; embedding: number[] });
    expect(lines.map((l) => l.image)).toEqual([
      ...(await resolveImagePaths(['drawings'])),
      'drawings/circle/0.png',
      'drawings/cross/0.png',
    ]);
    const alone = JSON.parse(await twinshot('embed', '--model', 'models/omniglot-fast', 'drawings/cross/1.png'));
    expect(alone.embedding.length).toBeGreaterThan(8);
    // A batch of one and a batch of eight may round differently in the last place.
    alone.embedding.forEach((x: number, i: number) => expect(x).toBeCloseTo(lines[3]!.embedding[i]!, 4));
  });

  it('reads hundreds of paths from standard input, and says which image failed', () => {
    // More than one chunk of 256, through the real command line.
    const list = Array.from({ length: 300 }, (_, i) => `drawings/${SYMBOLS[i % 3]}/${i % 2}.png`).join('\n');
    const run = (input: string) =>
      spawnSync(
        process.execPath,
        [
          '--import',
          tsxLoader,
          path.join(root, 'test/service/run-cli.ts'),
          'embed',
          '--model',
          'models/omniglot-fast',
          '--files-from',
          '-',
        ],
        { cwd: dir, input, encoding: 'utf8', env: { ...process.env, TWINSHOT_NUM_THREADS: '1' }, maxBuffer: 64 << 20 },
      );
    const ok = run(`${list}\n`);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim().split('\n')).toHaveLength(300);
    fs.writeFileSync('broken.png', 'not a png');
    const failed = run('drawings/circle/0.png\nbroken.png\n');
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/^twinshot: 1 image\(s\) could not be read or decoded; .*\n {2}broken\.png: /);
  }, 120_000);
});

describe('twinshot gallery enroll and identify', () => {
  it('enrol a folder per class and identify a pattern, one JSON line per image', async () => {
    const store = `sqlite:${path.join(dir, 'g.db')}`;
    for (const kind of SYMBOLS.slice(0, 3)) {
      expect(
        await twinshot('gallery', 'enroll', 'shapes', kind, `drawings/${kind}`, '--store', store, '--model', 'pixels'),
      ).toMatch(`enrolled 2 example(s) of '${kind}'`);
    }
    const results = (
      await twinshot(
        'gallery',
        'identify',
        'shapes',
        'drawings/*/0.png',
        '--store',
        store,
        '--model',
        'pixels',
        '-k',
        '1',
        '--json',
      )
    )
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { image: string; label: string });
    expect(results.map((r) => [r.image, r.label])).toEqual([
      ['drawings/circle/0.png', 'circle'],
      ['drawings/cross/0.png', 'cross'],
      ['drawings/triangle/0.png', 'triangle'],
    ]);
    expect(
      await twinshot(
        'gallery',
        'identify',
        'shapes',
        'drawings/circle/1.png',
        'drawings/cross/1.png',
        '--store',
        store,
        '--model',
        'pixels',
      ),
    ).toMatch(/^drawings\/circle\/1\.png: circle\n {2}circle .*\ndrawings\/cross\/1\.png: cross\n/s);
  });
});
