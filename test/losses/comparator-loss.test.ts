import { describe, expect, it } from 'vitest';
import { manualSeed, randn, type Tensor } from '../../src/engine/index.js';
import { LpDistance, comparatorEpisodeLoss } from '../../src/losses/index.js';

// Brute force over plain arrays: a comparator that scores a pair by minus the squared distance
// of its features plus a tenth of minus the embedding distance.
const rows = (t: Tensor) => t.tolist() as number[][];
const sq = (u: number[], v: number[]) => u.reduce((s, x, i) => s + (x - v[i]!) ** 2, 0);
const compare = (a: Tensor, b: Tensor, d: Tensor) => a.sub(b).square().sum(1).neg().sub(d.mul(0.1));

function episode(seed: number) {
  manualSeed(seed);
  // 5 classes, 1 shot; queries of classes 0, 1, 2, 3, 4, 0
  const embeddings = randn([11, 3], { dtype: 'float64' });
  const features = randn([11, 4], { dtype: 'float64' });
  return { embeddings, features, way: 5, shot: 1, queryLabels: [0, 1, 2, 3, 4, 0] };
}

describe('comparatorEpisodeLoss()', () => {
  it("ranks each query's nearest classes by the comparator, the right class forced in, and judges the same pairs", () => {
    const e = episode(2);
    const k = 3;
    const { loss, recall } = comparatorEpisodeLoss(compare, e, {
      candidates: k,
      rankWeight: 1,
      pairWeight: 0.5,
      distance: new LpDistance({ squared: true }),
    });
    const E = rows(e.embeddings);
    const Fe = rows(e.features);
    let rank = 0;
    let found = 0;
    const pos: number[] = [];
    const neg: number[] = [];
    e.queryLabels.forEach((label, q) => {
      const query = 5 + q;
      const order = [0, 1, 2, 3, 4].sort((a, b) => sq(E[query]!, E[a]!) - sq(E[query]!, E[b]!));
      const candidates = order.slice(0, k);
      if (candidates.includes(label)) found++;
      else candidates[k - 1] = label;
      const logits = candidates.map((c) => -sq(Fe[query]!, Fe[c]!) - 0.1 * sq(E[query]!, E[c]!));
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
      rank += lse - logits[candidates.indexOf(label)]!;
      candidates.forEach((c, j) => (c === label ? pos : neg).push(logits[j]!));
    });
    rank /= e.queryLabels.length;
    const bce = (l: number, y: number) => Math.max(l, 0) - l * y + Math.log1p(Math.exp(-Math.abs(l)));
    const pair =
      (0.5 * pos.reduce((s, l) => s + bce(l, 1), 0)) / pos.length +
      (0.5 * neg.reduce((s, l) => s + bce(l, 0), 0)) / neg.length;
    expect(loss.item()).toBeCloseTo(rank + 0.5 * pair, 8);
    expect(recall).toBeCloseTo(found / 6, 12);
    expect(found).toBeLessThan(6); // the forcing branch was exercised
  });

  it('sends gradients to both the features and the embeddings', () => {
    const e = episode(3);
    const embeddings = e.embeddings.clone().requiresGrad_(true);
    const features = e.features.clone().requiresGrad_(true);
    const { loss } = comparatorEpisodeLoss(
      compare,
      { ...e, embeddings, features },
      { candidates: 5, rankWeight: 1, pairWeight: 1, distance: new LpDistance({ squared: true }) },
    );
    loss.backward();
    expect(features.grad!.abs().sum().item()).toBeGreaterThan(0);
    expect(embeddings.grad!.abs().sum().item()).toBeGreaterThan(0);
  });

  it('refuses an episode whose rows do not add up', () => {
    const e = episode(4);
    expect(() =>
      comparatorEpisodeLoss(
        compare,
        { ...e, queryLabels: [0, 1] },
        { candidates: 3, rankWeight: 1, pairWeight: 1, distance: new LpDistance() },
      ),
    ).toThrow(/expected 5 supports \+ 2 queries = 7 rows; got 11/);
  });
});
