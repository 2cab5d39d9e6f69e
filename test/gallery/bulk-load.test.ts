// A bulk load killed with SIGKILL part-way leaves the gallery as it was, with every example
// acknowledged before it, and the index answers correctly after the restart; a load left to
// finish is wholly there. On every store (SQLite on its HNSW path, PostgreSQL).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SQLITE_HNSW_CASE, STORE_CASES, randomVector, seededRandom } from './helpers.js';
import { POSTGRES, reportIfMissing } from '../helpers/prerequisites.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LOAD = 4_000;

/** Runs the loader; with `killAfter`, SIGKILLs it once it has written that many rows. */
function runLoader(url: string, killAfter?: number): Promise<{ output: string; signal: string | null }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'test/gallery/run-bulk-load.ts'), url, String(LOAD)],
    {
      cwd: root,
      env: { ...process.env, TWINSHOT_NUM_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const onData = (data: Buffer): void => {
    output += data.toString();
    const written = [...output.matchAll(/written (\d+)/g)].map((m) => Number(m[1]));
    if (killAfter !== undefined && Math.max(0, ...written) >= killAfter && child.exitCode === null)
      child.kill('SIGKILL');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve({ output, signal })));
}

reportIfMissing(POSTGRES, 'bulk load on PostgreSQL, killed part-way');

const cases = [SQLITE_HNSW_CASE, ...STORE_CASES.filter((c) => c.name === 'postgres')];

describe.each(cases)('bulk load on $name, killed part-way', (storeCase) => {
  it('leaves the gallery as it was; a finished load is wholly there; the index answers after restart', async () => {
    const handle = await storeCase.open();
    try {
      const random = seededRandom(99);
      const acknowledged = Array.from({ length: 60 }, (_, i) => ({
        label: `kept-${i}`,
        vector: randomVector(random, 8),
      }));
      await handle.store.createGallery({ name: 'bulk', model: 'm', dim: 8, metric: 'l2' });
      for (const example of acknowledged) await handle.store.addExamples('bulk', [example]);
      // SQLite (exact below 50) now has an index file: the killed load must not corrupt it.
      await handle.store.search('bulk', [acknowledged[0]!.vector], { k: 1, by: 'example' });

      const killed = await runLoader(handle.url, 1_500);
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.output).not.toContain('done');

      const after = await handle.reopen();
      try {
        expect(await after.getGallery('bulk')).toMatchObject({ examples: 60, classes: 60 });
        for (const example of acknowledged.slice(0, 10)) {
          const [ranking] = await after.search('bulk', [example.vector], { k: 1, by: 'example' });
          expect(ranking![0]!.label).toBe(example.label);
        }
      } finally {
        await after.close();
      }

      const finished = await runLoader(handle.url);
      expect(finished.output).toContain(`done ${LOAD}`);
      const loaded = await handle.reopen();
      try {
        expect(await loaded.getGallery('bulk')).toMatchObject({ examples: LOAD + 60 });
        const [kept] = await loaded.search('bulk', [acknowledged[3]!.vector], { k: 1, by: 'example' });
        expect(kept![0]!.label).toBe('kept-3');
        // The loader's vectors come from the same seeded source, so the test can ask for one.
        const source = seededRandom(1234);
        const first = randomVector(source, 8);
        const [bulk] = await loaded.search('bulk', [first], { k: 1, by: 'example' });
        expect(bulk![0]).toMatchObject({ label: 'bulk-0', distance: expect.closeTo(0, 5) });
      } finally {
        await loaded.close();
      }
    } finally {
      await handle.cleanup();
    }
  }, 120_000);
});
