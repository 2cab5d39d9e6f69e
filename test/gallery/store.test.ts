// The GalleryStore contract, run against every store: galleries, examples, exact (or HNSW) search
// under each metric against a brute-force reference, class removal, isolation, keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GalleryStore, Neighbour } from '../../src/gallery/types.js';
import { vectorDistance, type SearchMetric } from '../../src/models/embedder.js';
import { isTwinshotError } from '../../src/errors.js';
import { SQLITE_HNSW_CASE, STORE_CASES, randomVector, seededRandom } from './helpers.js';
import { POSTGRES, reportIfMissing } from '../helpers/prerequisites.js';

/** Labels ranked by their nearest example (or mean), computed the slow obvious way. */
function bruteForce(
  metric: SearchMetric,
  examples: { label: string; vector: Float32Array }[],
  query: Float32Array,
  k: number,
  by: 'example' | 'mean',
): Neighbour[] {
  const best = new Map<string, number>();
  if (by === 'example') {
    for (const { label, vector } of examples) {
      const d = vectorDistance(metric, query, vector);
      if (!(best.get(label)! <= d)) best.set(label, d);
    }
  } else {
    const groups = new Map<string, Float32Array[]>();
    for (const e of examples) groups.set(e.label, [...(groups.get(e.label) ?? []), e.vector]);
    for (const [label, vectors] of groups) {
      const mean = new Float32Array(query.length);
      for (const v of vectors) for (let i = 0; i < v.length; i++) mean[i]! += v[i]! / vectors.length;
      best.set(label, vectorDistance(metric, query, mean));
    }
  }
  return [...best]
    .map(([label, distance]) => ({ label, distance }))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, k);
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isTwinshotError(error) ? error.code : error).toBe(code);
}

reportIfMissing(POSTGRES, 'PostgresStore');

describe.each([...STORE_CASES, SQLITE_HNSW_CASE])('$name store', (storeCase) => {
  let store: GalleryStore;
  let handle: Awaited<ReturnType<typeof storeCase.open>>;
  beforeAll(async () => {
    handle = await storeCase.open();
    store = handle.store;
  });
  afterAll(async () => handle?.cleanup());

  describe('GalleryStore#createGallery()', () => {
    it('creates once, then returns the same gallery for the same spec', async () => {
      const spec = { name: 'g-create', model: 'm', dim: 4, metric: 'l2' as const };
      const first = await store.createGallery(spec);
      expect(first.created).toBe(true);
      expect(first.gallery).toMatchObject({
        name: 'g-create',
        model: 'm',
        dim: 4,
        metric: 'l2',
        classes: 0,
        examples: 0,
      });
      expect(Date.parse(first.gallery.createdAt)).not.toBeNaN();
      const second = await store.createGallery(spec);
      expect(second.created).toBe(false);
      expect(second.gallery.createdAt).toBe(first.gallery.createdAt);
    });

    it('refuses an existing name with another model, dimension or metric (ERR_CONFLICT)', async () => {
      await store.createGallery({ name: 'g-conflict', model: 'm', dim: 4, metric: 'l2' });
      await expectCode(
        store.createGallery({ name: 'g-conflict', model: 'other', dim: 4, metric: 'l2' }),
        'ERR_CONFLICT',
      );
      await expectCode(store.createGallery({ name: 'g-conflict', model: 'm', dim: 5, metric: 'l2' }), 'ERR_CONFLICT');
      await expectCode(
        store.createGallery({ name: 'g-conflict', model: 'm', dim: 4, metric: 'cosine' }),
        'ERR_CONFLICT',
      );
    });
  });

  describe('GalleryStore#addExamples()', () => {
    it('stores vectors, counts classes and examples, and returns one id per vector', async () => {
      await store.createGallery({ name: 'g-add', model: 'm', dim: 3, metric: 'l2' });
      const ids = await store.addExamples('g-add', [
        { label: 'b', vector: new Float32Array([1, 0, 0]) },
        { label: 'a', vector: new Float32Array([0, 1, 0]) },
        { label: 'b', vector: new Float32Array([0, 0, 1]) },
      ]);
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(3);
      expect(await store.listClasses('g-add')).toEqual([
        { label: 'a', examples: 1 },
        { label: 'b', examples: 2 },
      ]);
      expect(await store.getGallery('g-add')).toMatchObject({ classes: 2, examples: 3 });
      const exported = await store.exportExamples('g-add');
      expect(exported.map((e) => [e.label, [...e.vector]])).toEqual([
        ['b', [1, 0, 0]],
        ['a', [0, 1, 0]],
        ['b', [0, 0, 1]],
      ]);
    });

    it('rejects a vector of the wrong length and stores none of the batch', async () => {
      await store.createGallery({ name: 'g-atomic', model: 'm', dim: 3, metric: 'l2' });
      await expectCode(
        store.addExamples('g-atomic', [
          { label: 'x', vector: new Float32Array([1, 2, 3]) },
          { label: 'y', vector: new Float32Array([1, 2]) },
        ]),
        'ERR_SHAPE',
      );
      expect(await store.listClasses('g-atomic')).toEqual([]);
    });

    it('answers ERR_NOT_FOUND for a gallery that does not exist', async () => {
      await expectCode(store.addExamples('nope', [{ label: 'x', vector: new Float32Array(3) }]), 'ERR_NOT_FOUND');
      await expectCode(store.search('nope', [new Float32Array(3)], { k: 1, by: 'example' }), 'ERR_NOT_FOUND');
      await expectCode(store.listClasses('nope'), 'ERR_NOT_FOUND');
      expect(await store.getGallery('nope')).toBeNull();
    });
  });

  describe.each(['l2', 'cosine', 'l1'] as const)('GalleryStore#search() under %s', (metric) => {
    const random = seededRandom(metric.length * 7919);
    const dim = 16;
    const examples = Array.from({ length: 600 }, (_, i) => ({
      label: `c${i % 60}`,
      vector: randomVector(random, dim),
    }));
    const queries = Array.from({ length: 20 }, () => randomVector(random, dim));
    const name = `g-search-${metric}`;

    beforeAll(async () => {
      await store.createGallery({ name, model: 'm', dim, metric });
      await store.addExamples(name, examples);
    });

    it('ranks labels by nearest example like a brute-force scan', async () => {
      const results = await store.search(name, queries, { k: 5, by: 'example' });
      expect(results).toHaveLength(queries.length);
      let agree = 0;
      results.forEach((ranking, i) => {
        const expected = bruteForce(metric, examples, queries[i]!, 5, 'example');
        expect(ranking).toHaveLength(5);
        // Reported distances are true distances of the reported labels' nearest examples.
        for (const n of ranking) {
          const own = bruteForce(
            metric,
            examples.filter((e) => e.label === n.label),
            queries[i]!,
            1,
            'example',
          )[0]!;
          expect(n.distance).toBeCloseTo(own.distance, 4);
        }
        if (ranking.map((n) => n.label).join() === expected.map((n) => n.label).join()) agree++;
      });
      // SQLite searches small galleries exactly; HNSW is approximate, but at 600 rows it should miss almost nothing.
      expect(agree).toBeGreaterThanOrEqual(storeCase.name === 'sqlite' ? queries.length : queries.length - 2);
    });

    it('ranks labels by class mean like a brute-force scan', async () => {
      const results = await store.search(name, queries, { k: 3, by: 'mean' });
      results.forEach((ranking, i) => {
        const expected = bruteForce(metric, examples, queries[i]!, 3, 'mean');
        expect(ranking.map((n) => n.label)).toEqual(expected.map((n) => n.label));
        ranking.forEach((n, j) => expect(n.distance).toBeCloseTo(expected[j]!.distance, 4));
      });
    });

    it('returns every label when k exceeds their number, and [] per query for an empty gallery', async () => {
      const [all] = await store.search(name, [queries[0]!], { k: 100, by: 'example' });
      expect(all).toHaveLength(60);
      expect(all!.map((n) => n.distance)).toEqual([...all!.map((n) => n.distance)].sort((a, b) => a - b));
      await store.createGallery({ name: `${name}-empty`, model: 'm', dim, metric });
      expect(await store.search(`${name}-empty`, [queries[0]!, queries[1]!], { k: 3, by: 'example' })).toEqual([
        [],
        [],
      ]);
    });
  });

  describe('GalleryStore#search() with many examples per label', () => {
    it('still finds k distinct labels when the nearest hundreds of rows share one label', async () => {
      const dim = 8;
      await store.createGallery({ name: 'g-crowded', model: 'm', dim, metric: 'l2' });
      const random = seededRandom(5);
      const near = Array.from({ length: 300 }, () => ({
        label: 'crowd',
        vector: randomVector(random, dim).map((x) => x * 0.01),
      }));
      const far = ['p', 'q', 'r'].map((label, i) => ({ label, vector: new Float32Array(dim).fill(5 + i) }));
      await store.addExamples('g-crowded', [...near, ...far]);
      const [ranking] = await store.search('g-crowded', [new Float32Array(dim)], { k: 4, by: 'example' });
      expect(ranking!.map((n) => n.label)).toEqual(['crowd', 'p', 'q', 'r']);
    });
  });

  describe('GalleryStore#addExamples() in bulk', () => {
    it('loads 7,000 rows of 7,000 labels in one call and searches them like brute force', async () => {
      // PostgreSQL rebuilds its index once for such a load, and must not take a lock per label
      // (7,000 locks overflow its default lock table).
      const dim = 8;
      const random = seededRandom(11);
      const rows = Array.from({ length: 7000 }, (_, i) => ({ label: `b${i}`, vector: randomVector(random, dim) }));
      await store.createGallery({ name: 'g-bulk', model: 'm', dim, metric: 'l2' });
      expect(await store.addExamples('g-bulk', rows)).toHaveLength(7000);
      // A second, small batch goes through the maintained index.
      await store.addExamples('g-bulk', [{ label: 'late', vector: new Float32Array(dim).fill(0.01) }]);
      const queries = [new Float32Array(dim), ...Array.from({ length: 9 }, () => randomVector(random, dim))];
      const results = await store.search('g-bulk', queries, { k: 3, by: 'example' });
      expect(results[0]![0]!.label).toBe('late');
      let agree = 0;
      results.slice(1).forEach((ranking, i) => {
        const expected = bruteForce('l2', rows, queries[i + 1]!, 3, 'example');
        if (ranking.map((n) => n.label).join() === expected.map((n) => n.label).join()) agree++;
      });
      expect(agree).toBeGreaterThanOrEqual(storeCase.name === 'sqlite' ? 9 : 8);
      expect(await store.getGallery('g-bulk')).toMatchObject({ classes: 7001, examples: 7001 });
      const [byMean] = await store.search('g-bulk', [queries[1]!], { k: 1, by: 'mean' });
      expect(byMean![0]!.label).toBe(bruteForce('l2', rows, queries[1]!, 1, 'example')[0]!.label);
    });
  });

  describe('GalleryStore#addBulk()', () => {
    it('loads batches as they come, in one transaction, and searches them', async () => {
      const dim = 8;
      const random = seededRandom(21);
      const rows = Array.from({ length: 300 }, (_, i) => ({ label: `u${i % 30}`, vector: randomVector(random, dim) }));
      await store.createGallery({ name: 'g-load', model: 'm', dim, metric: 'l2' });
      async function* batches() {
        for (let i = 0; i < rows.length; i += 64) yield rows.slice(i, i + 64);
      }
      const progress: number[] = [];
      expect(await store.addBulk('g-load', batches(), { onProgress: (n) => progress.push(n) })).toBe(300);
      expect(progress).toEqual([64, 128, 192, 256, 300]);
      expect(await store.getGallery('g-load')).toMatchObject({ classes: 30, examples: 300 });
      const query = rows[7]!.vector;
      const [ranking] = await store.search('g-load', [query], { k: 3, by: 'example' });
      expect(ranking!.map((n) => n.label)).toEqual(bruteForce('l2', rows, query, 3, 'example').map((n) => n.label));
      const [byMean] = await store.search('g-load', [query], { k: 3, by: 'mean' });
      expect(byMean!.map((n) => n.label)).toEqual(bruteForce('l2', rows, query, 3, 'mean').map((n) => n.label));
    });

    it('stores nothing when a batch fails part-way, and the gallery answers as before', async () => {
      const dim = 4;
      await store.createGallery({ name: 'g-load-fail', model: 'm', dim, metric: 'l2' });
      await store.addExamples('g-load-fail', [{ label: 'kept', vector: new Float32Array(dim) }]);
      async function* batches() {
        yield Array.from({ length: 100 }, (_, i) => ({ label: `x${i}`, vector: new Float32Array(dim).fill(i) }));
        yield [{ label: 'bad', vector: new Float32Array(dim + 1) }];
      }
      await expectCode(store.addBulk('g-load-fail', batches()), 'ERR_SHAPE');
      async function* failing() {
        yield Array.from({ length: 100 }, (_, i) => ({ label: `y${i}`, vector: new Float32Array(dim).fill(i) }));
        throw new Error('source broke');
      }
      await expect(store.addBulk('g-load-fail', failing())).rejects.toThrow('source broke');
      expect(await store.listClasses('g-load-fail')).toEqual([{ label: 'kept', examples: 1 }]);
      const [ranking] = await store.search('g-load-fail', [new Float32Array(dim).fill(3)], { k: 5, by: 'example' });
      expect(ranking!.map((n) => n.label)).toEqual(['kept']);
      await expectCode(store.addBulk('nope', [[{ label: 'x', vector: new Float32Array(dim) }]]), 'ERR_NOT_FOUND');
    });
  });

  describe('GalleryStore#removeClass()', () => {
    it('removes a label from listings and searches (by example and by mean), and counts what it removed', async () => {
      await store.createGallery({ name: 'g-remove', model: 'm', dim: 2, metric: 'l2' });
      await store.addExamples('g-remove', [
        { label: 'near', vector: new Float32Array([0, 0]) },
        { label: 'near', vector: new Float32Array([0.1, 0]) },
        { label: 'far', vector: new Float32Array([3, 3]) },
      ]);
      // Warm any cache, so the removal must invalidate it.
      expect((await store.search('g-remove', [new Float32Array([0, 0])], { k: 1, by: 'example' }))[0]![0]!.label).toBe(
        'near',
      );
      expect(await store.removeClass('g-remove', 'near')).toBe(2);
      expect(await store.removeClass('g-remove', 'near')).toBe(0);
      expect(await store.listClasses('g-remove')).toEqual([{ label: 'far', examples: 1 }]);
      for (const by of ['example', 'mean'] as const) {
        const [ranking] = await store.search('g-remove', [new Float32Array([0, 0])], { k: 5, by });
        expect(ranking!.map((n) => n.label)).toEqual(['far']);
      }
    });
  });

  describe('GalleryStore#deleteGallery()', () => {
    it('deletes the gallery and its vectors; a new gallery of that name starts empty', async () => {
      await store.createGallery({ name: 'g-delete', model: 'm', dim: 2, metric: 'l2' });
      await store.addExamples('g-delete', [{ label: 'x', vector: new Float32Array([1, 1]) }]);
      await store.search('g-delete', [new Float32Array([1, 1])], { k: 1, by: 'example' });
      expect(await store.deleteGallery('g-delete')).toBe(true);
      expect(await store.deleteGallery('g-delete')).toBe(false);
      expect(await store.getGallery('g-delete')).toBeNull();
      await expectCode(store.search('g-delete', [new Float32Array(2)], { k: 1, by: 'example' }), 'ERR_NOT_FOUND');
      await store.createGallery({ name: 'g-delete', model: 'm', dim: 2, metric: 'l2' });
      expect(await store.search('g-delete', [new Float32Array([1, 1])], { k: 1, by: 'example' })).toEqual([[]]);
    });
  });

  describe('galleries', () => {
    it('are isolated: the same label in two galleries never mixes', async () => {
      await store.createGallery({ name: 'iso-a', model: 'm', dim: 2, metric: 'l2' });
      await store.createGallery({ name: 'iso-b', model: 'm', dim: 2, metric: 'l2' });
      await store.addExamples('iso-a', [{ label: 'shared', vector: new Float32Array([0, 0]) }]);
      await store.addExamples('iso-b', [
        { label: 'shared', vector: new Float32Array([9, 9]) },
        { label: 'only-b', vector: new Float32Array([1, 1]) },
      ]);
      const [a] = await store.search('iso-a', [new Float32Array([1, 1])], { k: 5, by: 'example' });
      expect(a).toEqual([{ label: 'shared', distance: expect.closeTo(Math.SQRT2, 5) }]);
      await store.removeClass('iso-b', 'shared');
      expect(await store.listClasses('iso-a')).toEqual([{ label: 'shared', examples: 1 }]);
      const names = (await store.listGalleries()).map((g) => g.name);
      expect(names).toEqual([...names].sort());
      expect(names).toEqual(expect.arrayContaining(['iso-a', 'iso-b']));
    });

    it('written through one connection are seen, searched and removed through another', async () => {
      const other = await handle.reopen();
      try {
        await store.createGallery({ name: 'g-shared', model: 'm', dim: 2, metric: 'l2' });
        await store.addExamples('g-shared', [{ label: 'one', vector: new Float32Array([0, 0]) }]);
        expect(
          (await other.search('g-shared', [new Float32Array([0, 0])], { k: 5, by: 'example' }))[0]!.map((n) => n.label),
        ).toEqual(['one']);
        await store.addExamples('g-shared', [{ label: 'two', vector: new Float32Array([0, 0.5]) }]);
        expect(
          (await other.search('g-shared', [new Float32Array([0, 0])], { k: 5, by: 'example' }))[0]!.map((n) => n.label),
        ).toEqual(['one', 'two']);
        await other.removeClass('g-shared', 'one');
        expect(
          (await store.search('g-shared', [new Float32Array([0, 0])], { k: 5, by: 'mean' }))[0]!.map((n) => n.label),
        ).toEqual(['two']);
      } finally {
        await other.close();
      }
    });
  });

  describe('GalleryStore keys', () => {
    it('finds active keys by hash only, and forgets revoked ones', async () => {
      expect(await store.hasActiveKeys()).toBe(false);
      const key = {
        id: 'k1',
        hash: 'a'.repeat(64),
        gallery: 'g',
        scopes: ['read' as const],
        name: 'test key',
        createdAt: new Date().toISOString(),
        revokedAt: null,
      };
      await store.createKey(key);
      expect(await store.hasActiveKeys()).toBe(true);
      expect(await store.findKeyByHash('a'.repeat(64))).toMatchObject({
        id: 'k1',
        gallery: 'g',
        scopes: ['read'],
        name: 'test key',
        revokedAt: null,
      });
      expect(await store.findKeyByHash('b'.repeat(64))).toBeNull();
      expect(await store.revokeKey('k1')).toBe(true);
      expect(await store.revokeKey('k1')).toBe(false);
      expect(await store.findKeyByHash('a'.repeat(64))).toBeNull();
      expect(await store.hasActiveKeys()).toBe(false);
      const [listed] = await store.listKeys();
      expect(listed!.revokedAt).not.toBeNull();
    });
  });
});
