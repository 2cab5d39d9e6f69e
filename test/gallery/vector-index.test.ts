// VectorIndex, the exact in-memory search behind the SQLite store: exact against brute force
// across chunk boundaries, precise distances near zero, and safe with writes during a search.
import { describe, expect, it } from 'vitest';
import { VectorIndex } from '../../src/gallery/vector-index.js';
import { vectorDistance, type SearchMetric } from '../../src/models/embedder.js';
import { randomVector, seededRandom } from './helpers.js';

function nearestLabels(
  metric: SearchMetric,
  rows: { label: string; vector: Float32Array }[],
  query: Float32Array,
  k: number,
) {
  const best = new Map<string, number>();
  for (const { label, vector } of rows) {
    const d = vectorDistance(metric, query, vector);
    if (!(best.get(label)! <= d)) best.set(label, d);
  }
  return [...best].sort((a, b) => a[1] - b[1]).slice(0, k);
}

describe('VectorIndex#search()', () => {
  it('is exact across chunk boundaries (20,000 rows in two chunks)', async () => {
    const random = seededRandom(42);
    const dim = 8;
    const rows = Array.from({ length: 20_000 }, (_, i) => ({
      label: `l${i % 997}`,
      vector: randomVector(random, dim),
    }));
    const index = new VectorIndex(dim, 'l2');
    // Added in uneven pieces, so one piece straddles the chunk boundary.
    for (let start = 0; start < rows.length; start += 3_001) index.add(rows.slice(start, start + 3_001));
    expect(index.size).toBe(20_000);
    expect(index.labelCount).toBe(997);
    const queries = Array.from({ length: 10 }, () => randomVector(random, dim));
    const results = await index.search(queries, { k: 5, by: 'example' });
    results.forEach((ranking, i) => {
      const expected = nearestLabels('l2', rows, queries[i]!, 5);
      expect(ranking.map((n) => n.label)).toEqual(expected.map(([label]) => label));
      ranking.forEach((n, j) => expect(n.distance).toBeCloseTo(expected[j]![1], 6));
    });
    index.retire();
  });

  it('reports exact distances near zero, where the product form loses float32 precision', async () => {
    const index = new VectorIndex(64, 'l2');
    const base = Float32Array.from({ length: 64 }, (_, i) => 100 + i);
    const nudged = Float32Array.from(base, (x, i) => (i === 0 ? x + 1e-3 : x));
    index.add([{ label: 'nudged', vector: nudged }]);
    const hit = (await index.search([base], { k: 1, by: 'example' }))[0]![0]!;
    expect(hit.distance).toBeCloseTo(vectorDistance('l2', base, nudged), 7);
    expect(hit.distance).toBeGreaterThan(0);
  });

  it('keeps a search consistent while rows are added during it', async () => {
    const random = seededRandom(7);
    const index = new VectorIndex(16, 'cosine');
    const rows = Array.from({ length: 5_000 }, (_, i) => ({ label: `l${i % 50}`, vector: randomVector(random, 16) }));
    index.add(rows);
    const query = randomVector(random, 16);
    const pending = index.search([query], { k: 3, by: 'example' });
    index.add(Array.from({ length: 20_000 }, () => ({ label: 'late', vector: randomVector(random, 16) })));
    const [ranking] = await pending;
    expect(ranking!.map((n) => n.label)).toEqual(nearestLabels('cosine', rows, query, 3).map(([label]) => label));
    const [after] = await index.search([query], { k: 100, by: 'example' });
    expect(after!.map((n) => n.label)).toContain('late');
    index.retire();
  });

  it('answers concurrent searches together, each with its own k and match mode', async () => {
    const random = seededRandom(3);
    const rows = Array.from({ length: 2_000 }, (_, i) => ({ label: `l${i % 40}`, vector: randomVector(random, 8) }));
    const index = new VectorIndex(8, 'l2');
    index.add(rows);
    const queries = Array.from({ length: 4 }, () => randomVector(random, 8));
    const alone = [
      await index.search([queries[0]!], { k: 2, by: 'example' }),
      await index.search([queries[1]!, queries[2]!], { k: 7, by: 'example' }),
      await index.search([queries[3]!], { k: 3, by: 'mean' }),
    ];
    const together = await Promise.all([
      index.search([queries[0]!], { k: 2, by: 'example' }),
      index.search([queries[1]!, queries[2]!], { k: 7, by: 'example' }),
      index.search([queries[3]!], { k: 3, by: 'mean' }),
    ]);
    expect(together).toEqual(alone);
    expect(together.map((r) => r.map((q) => q.length))).toEqual([[2], [7, 7], [3]]);
    index.retire();
  });

  it('answers [] per query when empty, and clamps k to the number of labels', async () => {
    const index = new VectorIndex(2, 'l1');
    expect(await index.search([new Float32Array(2)], { k: 3, by: 'mean' })).toEqual([[]]);
    index.add([
      { label: 'a', vector: new Float32Array([0, 0]) },
      { label: 'a', vector: new Float32Array([2, 0]) },
      { label: 'b', vector: new Float32Array([5, 5]) },
    ]);
    const [byMean] = await index.search([new Float32Array([1, 0])], { k: 10, by: 'mean' });
    expect(byMean).toEqual([
      { label: 'a', distance: 0 },
      { label: 'b', distance: 9 },
    ]);
  });
});
