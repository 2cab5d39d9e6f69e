// The SQLite store's HNSW path: the index file beside the database, caught up after writes by
// another process, rebuilt when damaged, honouring removals, and `search: 'exact'` bypassing it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../src/gallery/open-store.js';
import { SqliteStore } from '../../src/gallery/sqlite-store.js';
import type { GalleryStore, NewExample } from '../../src/gallery/types.js';
import { vectorDistance } from '../../src/models/embedder.js';
import { randomVector, seededRandom } from './helpers.js';

const DIM = 8;
/** Low, so test galleries of a few hundred rows take the HNSW path. */
const EXACT_BELOW = 50;

function nearestLabels(rows: readonly NewExample[], query: Float32Array, k: number): string[] {
  const best = new Map<string, number>();
  for (const { label, vector } of rows) {
    const d = vectorDistance('l2', query, vector);
    if (!(best.get(label)! <= d)) best.set(label, d);
  }
  return [...best]
    .sort((a, b) => a[1] - b[1])
    .slice(0, k)
    .map(([label]) => label);
}

async function labels(store: GalleryStore, query: Float32Array, k = 3): Promise<string[]> {
  return (await store.search('g', [query], { k, by: 'example' }))[0]!.map((n) => n.label);
}

describe('SqliteStore with an HNSW index', () => {
  let dir: string;
  let file: string;
  const open: SqliteStore[] = [];
  const random = seededRandom(77);
  const rows = Array.from({ length: 400 }, (_, i) => ({ label: `c${i % 40}`, vector: randomVector(random, DIM) }));
  const openHnsw = (): SqliteStore => {
    const store = SqliteStore.open(file, { exactBelow: EXACT_BELOW });
    open.push(store);
    return store;
  };
  /** Index files, without the byte count in their names. */
  const indexFiles = (): string[] =>
    fs
      .readdirSync(`${file}.hnsw`)
      .filter((name) => name.endsWith('.usearch'))
      .map((name) => name.replace(/\.\d+b\.usearch$/, ''));

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-hnsw-'));
    file = path.join(dir, 'gallery.db');
    const store = openHnsw();
    await store.createGallery({ name: 'g', model: 'm', dim: DIM, metric: 'l2' });
    await store.addBulk('g', [rows]);
  });
  afterEach(async () => {
    for (const store of open.splice(0)) await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes the index file once a bulk load makes the gallery large, and answers like brute force', async () => {
    expect(indexFiles()).toEqual(['gallery-1.v2.upto-400']);
    const store = open[0]!;
    const queries = Array.from({ length: 10 }, () => randomVector(random, DIM));
    let agree = 0;
    for (const q of queries) if ((await labels(store, q)).join() === nearestLabels(rows, q, 3).join()) agree++;
    expect(agree).toBeGreaterThanOrEqual(9);
    const [byMean] = await store.search('g', [queries[0]!], { k: 1, by: 'mean' });
    expect(byMean).toHaveLength(1);
  });

  it('catches up with rows and removals written by another connection, and after a restart', async () => {
    const reader = open[0]!;
    const probe = new Float32Array(DIM).fill(0.02);
    expect(await labels(reader, probe)).not.toContain('late');
    const writer = openHnsw();
    await writer.addExamples('g', [{ label: 'late', vector: probe }]);
    expect((await labels(reader, probe))[0]).toBe('late');
    const nearest = nearestLabels(rows, rows[5]!.vector, 1)[0]!;
    expect(await writer.removeClass('g', nearest)).toBe(10);
    expect(await labels(reader, rows[5]!.vector, 40)).not.toContain(nearest);
    await reader.close();
    // The index file on disk predates both writes: a fresh store catches up from SQLite.
    const restarted = openHnsw();
    expect((await labels(restarted, probe))[0]).toBe('late');
    expect(await labels(restarted, rows[5]!.vector, 40)).not.toContain(nearest);
  });

  it('after a crash (no clean close) loads the last file and adds the rows it lacks', async () => {
    const store = open[0]!;
    await labels(store, rows[0]!.vector);
    // Enrolments after the last save, then the process "dies": the store is never closed.
    const added = Array.from({ length: 30 }, (_, i) => ({ label: `new${i}`, vector: randomVector(random, DIM) }));
    for (const example of added) await store.addExamples('g', [example]);
    open.splice(0, 1);
    expect(indexFiles()).toEqual(['gallery-1.v2.upto-400']);
    const restarted = openHnsw();
    for (const example of added.slice(0, 5)) expect((await labels(restarted, example.vector))[0]).toBe(example.label);
    await restarted.close();
    open.pop();
    // A clean close saved the caught-up index.
    expect(indexFiles()).toEqual(['gallery-1.v2.upto-430']);
  });

  it('rebuilds a damaged index file from the database', async () => {
    await open[0]!.close();
    open.pop();
    const [name] = fs.readdirSync(`${file}.hnsw`);
    fs.writeFileSync(path.join(`${file}.hnsw`, name!), 'not an index');
    const store = openHnsw();
    expect(await labels(store, rows[9]!.vector)).toEqual(nearestLabels(rows, rows[9]!.vector, 3));
  });

  it('keeps removals out of answers in this process, and still finds k distinct labels', async () => {
    const store = open[0]!;
    const nearest = nearestLabels(rows, rows[3]!.vector, 1)[0]!;
    await store.removeClass('g', nearest);
    const ranking = await labels(store, rows[3]!.vector, 39);
    expect(ranking).toHaveLength(39);
    expect(ranking).not.toContain(nearest);
    await store.close();
    open.shift();
    expect(await labels(openHnsw(), rows[3]!.vector, 39)).not.toContain(nearest);
  });

  it('with ?search=exact searches exactly and builds no index', async () => {
    await open[0]!.close();
    open.pop();
    fs.rmSync(`${file}.hnsw`, { recursive: true });
    const exact = await openStore(`sqlite:${file}?search=exact&exact_below=${EXACT_BELOW}`);
    try {
      const queries = Array.from({ length: 10 }, () => randomVector(random, DIM));
      for (const q of queries) expect(await labels(exact, q, 5)).toEqual(nearestLabels(rows, q, 5));
      expect(fs.existsSync(`${file}.hnsw`)).toBe(false);
    } finally {
      await exact.close();
    }
    await expect(openStore(`sqlite:${file}?search=fast`)).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    await expect(openStore(`sqlite:${file}?exact_below=-1`)).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });

  it('re-scores candidates from the stored float32 vectors: exact distances, and l2 ranks by length as well as direction', async () => {
    const store = open[0]!;
    // Same directions at lengths 1,000 apart in steps bfloat16 cannot tell apart (8 bits of
    // mantissa), and one unit vector: only float32 distances rank these rightly.
    await store.createGallery({ name: 'far', model: 'm', dim: DIM, metric: 'l2' });
    const direction = randomVector(random, DIM);
    const scaled = (length: number): Float32Array => direction.map((x) => x * length);
    const far = [
      ...Array.from({ length: EXACT_BELOW }, (_, i) => ({ label: `len${i}`, vector: scaled(1000 + i * 0.5) })),
      ...rows.slice(0, 40),
    ];
    await store.addBulk('far', [far]);
    expect(fs.readdirSync(`${file}.hnsw`).some((n) => n.startsWith('gallery-2.'))).toBe(true);
    const query = scaled(1010.1);
    const [ranking] = await store.search('far', [query], { k: 3, by: 'example' });
    expect(ranking!.map((n) => n.label)).toEqual(['len20', 'len21', 'len19']);
    const exact = far.find((e) => e.label === 'len20')!.vector;
    expect(ranking![0]!.distance).toBe(vectorDistance('l2', query, exact));
    const [unit] = await store.search('far', [rows[7]!.vector], { k: 1, by: 'example' });
    expect(unit![0]).toEqual({ label: rows[7]!.label, distance: 0 });
  });

  it('replaces an index file of the previous version (float32 graph) by a rebuilt one', async () => {
    await open[0]!.close();
    open.pop();
    const folder = `${file}.hnsw`;
    const [name] = fs.readdirSync(folder);
    const old = path.join(folder, name!.replace('.v2.', '.v1.'));
    fs.renameSync(path.join(folder, name!), old);
    const store = openHnsw();
    expect(await labels(store, rows[9]!.vector)).toEqual(nearestLabels(rows, rows[9]!.vector, 3));
    await store.close();
    open.pop();
    expect(fs.existsSync(old)).toBe(false);
    expect(indexFiles()).toEqual(['gallery-1.v2.upto-400']);
  });

  it('moves a growing gallery from exact search to the index without a bulk load', async () => {
    const store = openHnsw();
    await store.createGallery({ name: 'grow', model: 'm', dim: DIM, metric: 'l2' });
    for (const example of rows.slice(0, EXACT_BELOW + 5)) await store.addExamples('grow', [example]);
    await store.search('grow', [rows[0]!.vector], { k: 1, by: 'example' });
    await expect.poll(() => fs.readdirSync(`${file}.hnsw`).some((n) => n.startsWith('gallery-2.'))).toBe(true);
    const [ranking] = await store.search('grow', [rows[2]!.vector], { k: 1, by: 'example' });
    expect(ranking![0]!.label).toBe(rows[2]!.label);
    expect(await store.deleteGallery('grow')).toBe(true);
    expect(fs.readdirSync(`${file}.hnsw`).some((n) => n.startsWith('gallery-2.'))).toBe(false);
  });
});
