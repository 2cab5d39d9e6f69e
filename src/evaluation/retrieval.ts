// Retrieval and clustering quality of embeddings, as pytorch-metric-learning's AccuracyCalculator
// reports them: precision@1, R-precision, MAP@R (Musgrave et al. 2020) and NMI of k-means clusters.
import { noGrad } from '../engine/autograd.js';
import { tidy } from '../engine/scope.js';
import { cat, tensor, type Device, type Tensor } from '../engine/tensor.js';
import { Rng } from '../data/random.js';
import type { SearchMetric } from '../models/embedder.js';
import { ArgumentError } from '../errors.js';

export interface RetrievalMetrics {
  queries: number;
  precisionAt1: number;
  rPrecision: number;
  mapAtR: number;
  nmi: number;
}

function distances(a: Tensor, b: Tensor, metric: SearchMetric): Tensor {
  if (metric === 'cosine')
    return a
      .div(a.norm(2, 1, true).clampMin(1e-12))
      .matmul(b.div(b.norm(2, 1, true).clampMin(1e-12)).t())
      .rsub(1);
  return a.cdist(b, metric === 'l1' ? 1 : 2);
}

/**
 * Each embedding queries all the others (itself excluded). R is the number of other embeddings
 * with its label; queries whose label has no other member are skipped.
 */
export function retrievalMetrics(
  embeddings: Tensor,
  labels: ArrayLike<number>,
  options: { metric?: SearchMetric; seed?: number } = {},
): RetrievalMetrics {
  const n = embeddings.shape[0]!;
  if (labels.length !== n) throw new ArgumentError(`retrievalMetrics: ${n} embeddings but ${labels.length} labels`);
  const metric = options.metric ?? 'l2';
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
  const maxR = Math.max(...counts.values()) - 1;
  let queries = 0;
  let p1 = 0;
  let rp = 0;
  let map = 0;
  const chunk = 256;
  noGrad(() => {
    for (let start = 0; start < n; start += chunk) {
      const rows = Math.min(chunk, n - start);
      // the maxR + 1 nearest (the first is normally the query itself)
      const order = tidy(() => {
        const d = distances(embeddings.narrow(0, start, rows), embeddings, metric);
        return d.topk(Math.min(maxR + 1, n), { dim: 1, largest: false }).indices.toArray();
      });
      const k = Math.min(maxR + 1, n);
      for (let r = 0; r < rows; r++) {
        const i = start + r;
        const R = counts.get(labels[i]!)! - 1;
        if (R === 0) continue;
        const neighbours = order
          .slice(r * k, (r + 1) * k)
          .filter((j) => j !== i)
          .slice(0, R);
        queries++;
        let hits = 0;
        let ap = 0;
        neighbours.forEach((j, rank) => {
          if (labels[j] === labels[i]) {
            hits++;
            ap += hits / (rank + 1);
          }
        });
        p1 += labels[neighbours[0]!] === labels[i] ? 1 : 0;
        rp += hits / R;
        map += ap / R;
      }
    }
  });
  const clusters = kMeans(embeddings, counts.size, { seed: options.seed ?? 0, metric });
  return {
    queries,
    precisionAt1: p1 / Math.max(queries, 1),
    rPrecision: rp / Math.max(queries, 1),
    mapAtR: map / Math.max(queries, 1),
    nmi: normalizedMutualInformation(clusters, labels),
  };
}

/** k-means with k-means++ seeding (Arthur & Vassilvitskii 2007); returns a cluster per row. */
export function kMeans(
  points: Tensor,
  k: number,
  options: { seed?: number; iterations?: number; metric?: SearchMetric } = {},
): Int32Array {
  const n = points.shape[0]!;
  if (!(k >= 1 && k <= n)) throw new ArgumentError(`kMeans: k must be in [1, ${n}]; got ${k}`);
  const rng = new Rng(options.seed ?? 0);
  return noGrad(() =>
    tidy(() => {
      const x = options.metric === 'cosine' ? points.div(points.norm(2, 1, true).clampMin(1e-12)) : points;
      const chosen = [rng.int(n)];
      let nearest = x
        .cdist(x.narrow(0, chosen[0]!, 1))
        .squeeze(1)
        .square()
        .toArray();
      while (chosen.length < k) {
        const total = nearest.reduce((s, v) => s + v, 0);
        let target = rng.next() * total;
        let pick = 0;
        while (pick < n - 1 && target > nearest[pick]!) target -= nearest[pick++]!;
        chosen.push(pick);
        const d = x
          .cdist(x.narrow(0, pick, 1))
          .squeeze(1)
          .square()
          .toArray();
        nearest = nearest.map((v, i) => Math.min(v, d[i]!));
      }
      const device = x.device as Device;
      let centres = x.indexSelect(0, tensor(chosen, { device }));
      let assignment = new Int32Array(n);
      for (let iter = 0; iter < (options.iterations ?? 30); iter++) {
        const next = Int32Array.from(x.cdist(centres).argmin(1).toArray());
        const changed = next.some((c, i) => c !== assignment[i]) || iter === 0;
        assignment = next;
        if (!changed) break;
        const rows: Tensor[] = [];
        for (let c = 0; c < k; c++) {
          const members = [];
          for (let i = 0; i < n; i++) if (assignment[i] === c) members.push(i);
          rows.push(
            members.length > 0 ? x.indexSelect(0, tensor(members, { device })).mean(0, true) : centres.narrow(0, c, 1),
          );
        }
        centres = cat(rows);
      }
      return assignment;
    }),
  );
}

/** NMI with arithmetic-mean normalisation: 2 I(A; B) / (H(A) + H(B)). */
export function normalizedMutualInformation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const joint = new Map<string, number>();
  const ca = new Map<number, number>();
  const cb = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    joint.set(`${a[i]}|${b[i]}`, (joint.get(`${a[i]}|${b[i]}`) ?? 0) + 1);
    ca.set(a[i]!, (ca.get(a[i]!) ?? 0) + 1);
    cb.set(b[i]!, (cb.get(b[i]!) ?? 0) + 1);
  }
  const entropy = (counts: Map<number, number>) =>
    [...counts.values()].reduce((h, c) => h - (c / n) * Math.log(c / n), 0);
  let mutual = 0;
  for (const [key, c] of joint) {
    const [x, y] = key.split('|').map(Number) as [number, number];
    mutual += (c / n) * Math.log((c * n) / (ca.get(x)! * cb.get(y)!));
  }
  const h = entropy(ca) + entropy(cb);
  return h === 0 ? 1 : (2 * mutual) / h;
}
