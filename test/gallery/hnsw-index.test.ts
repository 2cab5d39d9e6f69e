// HnswIndex's bfloat16 distances and the bound the SQLite store stops re-scoring at: no example's
// float32 distance may be below HnswIndex#exactAtLeast of its bfloat16 distance, at any scale.
import { describe, expect, it } from 'vitest';
import { HnswIndex, nearestLabels } from '../../src/gallery/hnsw-index.js';
import { vectorDistance } from '../../src/models/embedder.js';
import { randomVector, seededRandom } from './helpers.js';

describe('HnswIndex bfloat16 distances', () => {
  for (const metric of ['l2', 'cosine'] as const) {
    it(`bound the float32 ${metric} distance from below, tightly enough to stop early`, () => {
      const random = seededRandom(metric === 'l2' ? 5 : 6);
      for (const dim of [8, 256]) {
        // Lengths from 1e-3 to 1e3, near-duplicates of the queries among them.
        const vectors = Array.from({ length: 300 }, (_, i) => {
          const v = randomVector(random, dim).map((x) => x * 10 ** (random() * 6 - 3));
          return i % 10 === 0 && i > 0 ? vectors0(v, random) : v;
        });
        const index = HnswIndex.create(dim, metric);
        const packed = new Float32Array(vectors.length * dim);
        vectors.forEach((v, i) => packed.set(v, i * dim));
        index.add(
          vectors.map((_, i) => i + 1),
          packed,
        );
        let useful = 0;
        let pairs = 0;
        for (const query of vectors.slice(0, 40)) {
          let squares = 0;
          for (const x of query) squares += x * x;
          const { ids, distances } = index.search(query, vectors.length);
          ids.forEach((id, i) => {
            const exact = vectorDistance(metric, query, vectors[id - 1]!);
            const bound = index.exactAtLeast(distances[i]!, Math.sqrt(squares));
            expect(bound).toBeLessThanOrEqual(exact);
            pairs++;
            if (bound >= 0.9 * exact) useful++;
          });
        }
        // Most pairs are not near-duplicates: there the bound is within 10% of the distance.
        expect(useful / pairs).toBeGreaterThan(0.5);
      }
    });
  }
});

describe('nearestLabels', () => {
  // 100 candidates, approximate distance i / 100; each is its own label unless set otherwise.
  const ids = Array.from({ length: 100 }, (_, i) => i);
  const found = { ids, distances: ids.map((i) => i / 100) };
  const scorer = (exact: (id: number) => number, label = (id: number) => `L${id}`) => {
    const scored: number[] = [];
    const score = (batch: number[]) => {
      scored.push(...batch);
      return batch.map((id) => ({ label: label(id), distance: exact(id) }));
    };
    return { score, scored };
  };

  it('stops after the first batch when no later candidate can come within the k-th label', () => {
    const { score, scored } = scorer((id) => id / 100);
    const { neighbours, read } = nearestLabels(found, 3, score, (d) => d - 0.001);
    expect(neighbours.map((n) => n.label)).toEqual(['L0', 'L1', 'L2']);
    expect(read).toBe(16);
    expect(scored).toHaveLength(16);
  });

  it('reads on while a later candidate may still be nearer, and finds it', () => {
    // Candidate 40's exact distance is far below its approximate one; the bound allows 0.45 less.
    const { score } = scorer((id) => (id === 40 ? 0.001 : id / 100));
    const { neighbours, read } = nearestLabels(found, 2, score, (d) => d - 0.45);
    expect(neighbours).toEqual([
      { label: 'L0', distance: 0 },
      { label: 'L40', distance: 0.001 },
    ]);
    expect(read).toBeGreaterThan(40);
  });

  it('keeps each label at its nearest example, skips missing rows, and returns fewer than k when it must', () => {
    // Ten labels of ten candidates each; odd ids were removed (not scored back).
    const score = (batch: number[]) =>
      batch.filter((id) => id % 2 === 0).map((id) => ({ label: `L${id % 10}`, distance: 1 - id / 1000 }));
    const { neighbours, read } = nearestLabels(found, 8, score, () => 0);
    expect(read).toBe(100);
    expect(neighbours.map((n) => n.label)).toEqual(['L8', 'L6', 'L4', 'L2', 'L0']);
    expect(neighbours[0]!.distance).toBeCloseTo(1 - 98 / 1000);
  });
});

/** A copy of `v` moved by a millionth of its length: a near-duplicate bfloat16 cannot resolve. */
function vectors0(v: Float32Array, random: () => number): Float32Array {
  return v.map((x) => x * (1 + (random() - 0.5) * 1e-6));
}
