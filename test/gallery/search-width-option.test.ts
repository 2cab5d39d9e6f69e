// The stores' `searchWidth` option (`?search_width=N` in a store URL): the candidates an HNSW
// search starts with, in place of the width that grows with the gallery; bad values refused.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HnswIndex } from '../../src/gallery/hnsw-index.js';
import { openStore } from '../../src/gallery/open-store.js';
import { PostgresStore } from '../../src/gallery/postgres-store.js';
import { SqliteStore } from '../../src/gallery/sqlite-store.js';
import type { GalleryStore } from '../../src/gallery/types.js';
import { POSTGRES, reportIfMissing } from '../helpers/prerequisites.js';
import { PG_URL, randomVector, seededRandom } from './helpers.js';

const DIM = 8;
const random = seededRandom(11);
const rows = Array.from({ length: 200 }, (_, i) => ({ label: `c${i % 40}`, vector: randomVector(random, DIM) }));

async function loaded(store: GalleryStore): Promise<GalleryStore> {
  await store.createGallery({ name: 'g', model: 'm', dim: DIM, metric: 'l2' });
  await store.addBulk('g', [rows]);
  return store;
}

describe('searchWidth in the SQLite store', () => {
  let dir: string;
  const open: GalleryStore[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-width-'));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const store of open.splice(0)) await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The candidate count of each HNSW search the store runs for one query. */
  async function countsAsked(store: GalleryStore, k: number): Promise<number[]> {
    const search = vi.spyOn(HnswIndex.prototype, 'search');
    const [ranking] = await store.search('g', [rows[3]!.vector], { k, by: 'example' });
    expect(ranking![0]!.label).toBe(rows[3]!.label);
    const counts = search.mock.calls.map(([, count]) => count);
    search.mockRestore();
    return counts;
  }

  it('starts an HNSW search at the chosen width (at least 4k) instead of the default', async () => {
    const chosen = await loaded(await openStore(`sqlite:${path.join(dir, 'a.db')}?exact_below=50&search_width=150`));
    const standard = await loaded(SqliteStore.open(path.join(dir, 'b.db'), { exactBelow: 50 }));
    open.push(chosen, standard);
    expect(await countsAsked(chosen, 1)).toEqual([150]);
    expect((await countsAsked(chosen, 40))[0]).toBe(160);
    expect(await countsAsked(standard, 1)).toEqual([96]);
  });

  it('refuses a width that is not a whole number from 1 to 1,000, in the URL and the option', async () => {
    for (const value of ['0', '1001', 'abc', '2.5', '']) {
      await expect(openStore(`sqlite:${path.join(dir, 'c.db')}?search_width=${value}`)).rejects.toMatchObject({
        code: 'ERR_CONFIG',
        message: expect.stringContaining('search_width must be a whole number from 1 to 1000'),
      });
    }
    expect(() => SqliteStore.open(path.join(dir, 'd.db'), { searchWidth: 1.5 })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG' }),
    );
  });
});

reportIfMissing(POSTGRES, 'searchWidth in the PostgreSQL store');

describe.skipIf(!PG_URL)('searchWidth in the PostgreSQL store', () => {
  it('sets hnsw.ef_search to the chosen width, from the URL', async () => {
    const schema = `twinshot_test_${crypto.randomBytes(6).toString('hex')}`;
    const url = new URL(PG_URL!);
    url.searchParams.set('schema', schema);
    url.searchParams.set('search_width', '300');
    const store = (await openStore(url.toString())) as PostgresStore;
    try {
      await loaded(store);
      const query = vi.spyOn(pg.Client.prototype, 'query');
      const [ranking] = await store.search('g', [rows[3]!.vector], { k: 2, by: 'example' });
      expect(ranking![0]!.label).toBe(rows[3]!.label);
      const sent = query.mock.calls.map(([text]) => (typeof text === 'string' ? text : JSON.stringify(text)));
      expect(sent).toContain('SET LOCAL hnsw.ef_search = 300');
      await expect(PostgresStore.open(PG_URL!, { schema, searchWidth: 0 })).rejects.toMatchObject({
        code: 'ERR_CONFIG',
      });
    } finally {
      vi.restoreAllMocks();
      await store.dropSchema();
      await store.close();
    }
  });
});
