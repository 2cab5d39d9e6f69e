import { describe, expect, it } from 'vitest';
import { manualSeed, randn, tensor, type Tensor } from '../../src/engine/index.js';
import {
  BatchAllMiner,
  BatchHardMiner,
  ContrastiveLoss,
  CosineDistance,
  LpDistance,
  PrototypicalLoss,
  SemiHardMiner,
  TripletMarginLoss,
  allPairsBceLoss,
} from '../../src/losses/index.js';
import { EmbeddingNet } from '../../src/models/embedding-net.js';
import { expectClose } from '../helpers/assert.js';

// Brute-force references over plain arrays.
const rows = (t: Tensor) => t.tolist() as number[][];
const euclid = (u: number[], v: number[]) => Math.sqrt(u.reduce((s, x, i) => s + (x - v[i]!) ** 2, 0));
const cosineDistance = (u: number[], v: number[]) => {
  const dot = u.reduce((s, x, i) => s + x * v[i]!, 0);
  return 1 - dot / (Math.hypot(...u) * Math.hypot(...v));
};

function batch(seed: number): { emb: Tensor; labels: Tensor; E: number[][]; L: number[] } {
  manualSeed(seed);
  const emb = randn([12, 5], { dtype: 'float64' });
  const L = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3];
  return { emb, labels: tensor(L), E: rows(emb), L };
}

describe('LpDistance#matrix()', () => {
  it('matches a naive loop, plain, squared and on unit vectors; cosine too', () => {
    const { emb, E } = batch(1);
    expectClose(
      new LpDistance().matrix(emb, emb),
      E.flatMap((u) => E.map((v) => euclid(u, v))),
      { atol: 2e-6 },
    );
    expectClose(
      new LpDistance({ squared: true }).matrix(emb, emb),
      E.flatMap((u) => E.map((v) => euclid(u, v) ** 2)),
      { atol: 1e-9 },
    );
    const unit = E.map((u) => u.map((x) => x / Math.hypot(...u)));
    expectClose(
      new LpDistance({ normalize: true }).matrix(emb, emb),
      unit.flatMap((u) => unit.map((v) => euclid(u, v))),
      { atol: 2e-6 },
    );
    expectClose(
      new CosineDistance().matrix(emb, emb),
      E.flatMap((u) => E.map((v) => cosineDistance(u, v))),
      { atol: 1e-9 },
    );
  });
});

describe('BatchHardMiner#mine()', () => {
  it('picks the farthest positive and nearest negative of every anchor', () => {
    const { emb, labels, E, L } = batch(2);
    const t = new BatchHardMiner(new LpDistance()).mine(emb, labels);
    if (t.kind !== 'triplets') throw new Error('expected triplets');
    const want = L.map((la, a) => {
      const pos = L.map((l, j) => (l === la && j !== a ? j : -1)).filter((j) => j >= 0);
      const neg = L.map((l, j) => (l !== la ? j : -1)).filter((j) => j >= 0);
      const p = pos.reduce((best, j) => (euclid(E[a]!, E[j]!) > euclid(E[a]!, E[best]!) ? j : best));
      const n = neg.reduce((best, j) => (euclid(E[a]!, E[j]!) < euclid(E[a]!, E[best]!) ? j : best));
      return [a, p, n];
    });
    expect(t.a.toArray().map((a, i) => [a, t.p.toArray()[i], t.n.toArray()[i]])).toEqual(want);
  });
});

describe('SemiHardMiner#mine()', () => {
  it('follows TensorFlow Addons: nearest negative beyond the positive, else the largest negative distance', () => {
    const { emb, labels, E, L } = batch(3);
    for (const fallback of ['largest', 'hardest'] as const) {
      const t = new SemiHardMiner(new LpDistance(), { fallback }).mine(emb, labels);
      if (t.kind !== 'triplets') throw new Error('expected triplets');
      const want: number[][] = [];
      L.forEach((la, a) =>
        L.forEach((lp, p) => {
          if (lp !== la || p === a) return;
          const dap = euclid(E[a]!, E[p]!);
          const negs = L.map((l, j) => (l !== la ? j : -1)).filter((j) => j >= 0);
          const beyond = negs.filter((j) => euclid(E[a]!, E[j]!) > dap);
          const pickMin = (js: number[]) => js.reduce((b, j) => (euclid(E[a]!, E[j]!) < euclid(E[a]!, E[b]!) ? j : b));
          const pickMax = (js: number[]) => js.reduce((b, j) => (euclid(E[a]!, E[j]!) > euclid(E[a]!, E[b]!) ? j : b));
          want.push([
            a,
            p,
            beyond.length > 0 ? pickMin(beyond) : fallback === 'largest' ? pickMax(negs) : pickMin(negs),
          ]);
        }),
      );
      expect(t.a.toArray().map((a, i) => [a, t.p.toArray()[i], t.n.toArray()[i]])).toEqual(want);
    }
  });
});

describe('TripletMarginLoss#forward()', () => {
  it('averages the non-zero losses of all valid triplets (batch-all) like a naive loop', () => {
    const { emb, labels, E, L } = batch(4);
    const margin = 1.5;
    const losses: number[] = [];
    L.forEach((la, a) =>
      L.forEach((lp, p) =>
        L.forEach((ln, n) => {
          if (lp === la && p !== a && ln !== la)
            losses.push(Math.max(euclid(E[a]!, E[p]!) - euclid(E[a]!, E[n]!) + margin, 0));
        }),
      ),
    );
    const nonZero = losses.filter((x) => x > 0);
    const want = nonZero.reduce((s, x) => s + x, 0) / nonZero.length;
    const loss = new TripletMarginLoss({ margin });
    expect(loss.forward(emb, labels).item()).toBeCloseTo(want, 6);
    const all = new BatchAllMiner(new LpDistance()).mine(emb, labels);
    expect(all.kind === 'triplets' && all.a.numel()).toBe(losses.length);
    const stats = loss.statistics(emb, labels);
    expect(stats.active).toBe(nonZero.length);
  });

  it('returns a zero still connected to the graph when nothing is mined', () => {
    const emb = randn([4, 3], { requiresGrad: true });
    const loss = new TripletMarginLoss().forward(emb, tensor([0, 1, 2, 3]));
    expect(Math.abs(loss.item())).toBe(0);
    loss.backward();
    expect(emb.grad!.abs().sum().item()).toBe(0);
  });
});

describe('ContrastiveLoss#forward()', () => {
  it('matches y d^2 + (1 - y) max(m - d, 0)^2 averaged over positive and negative pairs', () => {
    const { emb, labels, E, L } = batch(5);
    const m = 2.5;
    const pos: number[] = [];
    const neg: number[] = [];
    L.forEach((li, i) =>
      L.forEach((lj, j) => {
        if (i === j) return;
        const d = euclid(E[i]!, E[j]!);
        if (li === lj) pos.push(d * d);
        else neg.push(Math.max(m - d, 0) ** 2);
      }),
    );
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(new ContrastiveLoss({ negMargin: m }).forward(emb, labels).item()).toBeCloseTo(mean(pos) + mean(neg), 6);
  });
});

describe('PrototypicalLoss#forward()', () => {
  it('classifies queries by distance to class means, like a naive loop', () => {
    manualSeed(6);
    const emb = randn([9, 4], { dtype: 'float64' });
    const L = [0, 0, 0, 1, 1, 1, 2, 2, 2];
    const E = rows(emb);
    const shots = 2;
    const classes = [0, 1, 2];
    const protos = classes.map((c) => {
      const members = L.map((l, i) => (l === c ? i : -1))
        .filter((i) => i >= 0)
        .slice(0, shots);
      return E[0]!.map((_, k) => members.reduce((s, i) => s + E[i]![k]!, 0) / shots);
    });
    let total = 0;
    let count = 0;
    classes.forEach((c) => {
      const queries = L.map((l, i) => (l === c ? i : -1))
        .filter((i) => i >= 0)
        .slice(shots);
      for (const q of queries) {
        const logits = protos.map((p) => -(euclid(E[q]!, p) ** 2));
        const lse = Math.log(logits.reduce((s, x) => s + Math.exp(x), 0));
        total += lse - logits[c]!;
        count++;
      }
    });
    expect(new PrototypicalLoss({ shots }).forward(emb, tensor(L)).item()).toBeCloseTo(total / count, 6);
    expect(() => new PrototypicalLoss({ shots: 3 }).forward(emb, tensor(L))).toThrow(/class 0 has 3 images/);
  });
});

describe('allPairsBceLoss()', () => {
  it('weights positive and negative pairs to half the loss each', () => {
    manualSeed(7);
    const net = new EmbeddingNet({ backbone: 'conv', channels: [4], inputSize: 8 });
    const emb = randn([6, 3]);
    const L = [0, 0, 1, 1, 2, 2];
    const E = rows(emb);
    const scale = net.pairScale.item();
    const offset = net.pairOffset.item();
    const bce = (logit: number, y: number) => Math.max(logit, 0) - logit * y + Math.log1p(Math.exp(-Math.abs(logit)));
    const pos: number[] = [];
    const neg: number[] = [];
    L.forEach((li, i) =>
      L.forEach((lj, j) => {
        if (i === j) return;
        const logit = scale * (offset - euclid(E[i]!, E[j]!));
        (li === lj ? pos : neg).push(bce(logit, li === lj ? 1 : 0));
      }),
    );
    const want = pos.reduce((s, x) => s + x, 0) / (2 * pos.length) + neg.reduce((s, x) => s + x, 0) / (2 * neg.length);
    expect(allPairsBceLoss(net, emb, tensor(L)).item()).toBeCloseTo(want, 4);
  });
});

describe('class labels', () => {
  it('are refused by every loss and miner when they are floats or booleans, naming the dtype and the fix', () => {
    const { emb } = batch(5);
    const floats = tensor([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3], { dtype: 'float32' });
    const users: [string, () => unknown][] = [
      ['triplet', () => new TripletMarginLoss().forward(emb, floats)],
      ['contrastive', () => new ContrastiveLoss().forward(emb, floats)],
      ['prototypical', () => new PrototypicalLoss({ shots: 1 }).forward(emb, floats)],
      ['miner', () => new BatchHardMiner(new LpDistance()).mine(emb, floats)],
      ['labelMasks', () => allPairsBceLoss({ pairLogitMatrix: () => null } as never, emb, floats)],
    ];
    for (const [name, use] of users) {
      expect(use, name).toThrow(
        expect.objectContaining({
          code: 'ERR_DTYPE',
          message: expect.stringMatching(/labels must be integer class ids .*got float32.*int64/),
        }),
      );
    }
    expect(() => new TripletMarginLoss().forward(emb, tensor(Array(12).fill(true)))).toThrow(/got bool/);
    expect(() =>
      new TripletMarginLoss().forward(emb, tensor([0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3], { dtype: 'int32' })),
    ).not.toThrow();
  });
});
