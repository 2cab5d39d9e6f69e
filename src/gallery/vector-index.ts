// VectorIndex: exact nearest-label search over one gallery's vectors, held in libtorch tensors
// (the SQLite store's in-memory index). Distances come from one matrix product per chunk, run
// on libuv's thread pool, so a search over 100,000 vectors does not block the event loop.
import { callAsync, cat, empty, tensor, type Tensor } from '../engine/index.js';
import { TwinshotError } from '../errors.js';
import { vectorDistance, type SearchMetric } from '../models/embedder.js';
import type { MatchMode, Neighbour } from './types.js';

/**
 * Rows per chunk. Vectors are appended in place into a preallocated chunk, so adding one
 * example costs O(dim), never a copy of the whole gallery; 16,384 rows x 256 floats is 16 MiB.
 */
export const CHUNK_ROWS = 16_384;

interface Chunk {
  /** [CHUNK_ROWS, dim] float32; rows [0, used) are live. */
  data: Tensor;
  /** [1, CHUNK_ROWS]: squared norms (l2) or norms (cosine) of the rows, for the product form. */
  norms: Tensor;
  used: number;
}

/** Class means as a block, with the vectors kept in JS for exact re-scoring. */
interface MeanMatrix {
  data: Tensor;
  norms: Tensor;
  vectors: Float32Array[];
}

interface PendingSearch {
  queries: readonly Float32Array[];
  k: number;
  by: MatchMode;
  resolve: (rankings: Neighbour[][]) => void;
  reject: (error: unknown) => void;
}

/** One vector to add, with its label. */
export interface IndexedExample {
  label: string;
  vector: Float32Array;
}

function sumSquares(v: Float32Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return s;
}

/**
 * Exact k-nearest-label search under l2, cosine or l1.
 *
 * Scores are computed in the product form (|x|^2 - 2 q.x for l2, -q.x/|x| for cosine), which
 * ranks like the true distance but loses precision near zero in float32; so each query's best
 * candidates are re-scored exactly with {@link vectorDistance} before they are returned.
 */
export class VectorIndex {
  readonly dim: number;
  readonly metric: SearchMetric;
  #chunks: Chunk[] = [];
  #rowLabel = new Int32Array(1024);
  #count = 0;
  #labels: string[] = [];
  #labelIndex = new Map<string, number>();
  #sums: Float64Array[] = [];
  #counts: number[] = [];
  #means: MeanMatrix | null = null;
  #inFlight = 0;
  #isRetired = false;
  #queue: PendingSearch[] = [];
  #isSearching = false;

  readonly #isTrackingMeans: boolean;

  /**
   * @param options.trackMeans keep each label's sum for search by mean (default true); an index of
   *   class means (one row per label) turns it off, saving 8 bytes x dim per label
   */
  constructor(dim: number, metric: SearchMetric, options: { trackMeans?: boolean } = {}) {
    this.dim = dim;
    this.metric = metric;
    this.#isTrackingMeans = options.trackMeans ?? true;
  }

  /** Number of vectors held. */
  get size(): number {
    return this.#count;
  }

  /** Number of distinct labels. */
  get labelCount(): number {
    return this.#labels.length;
  }

  /** Appends vectors (each must have length `dim`). */
  add(examples: readonly IndexedExample[]): void {
    const packed = new Float32Array(examples.length * this.dim);
    examples.forEach(({ vector }, i) => packed.set(vector, i * this.dim));
    this.addPacked(
      examples.map((e) => e.label),
      packed,
    );
  }

  /**
   * Appends vectors packed row after row in one array (`labels.length * dim` values): what the
   * store uses to load a gallery without one allocation per row.
   */
  addPacked(labels: readonly string[], packed: Float32Array): void {
    const { dim } = this;
    let offset = 0;
    while (offset < labels.length) {
      let chunk = this.#chunks[this.#chunks.length - 1];
      const isFull = !chunk || chunk.used === CHUNK_ROWS;
      const take = Math.min(isFull ? CHUNK_ROWS : CHUNK_ROWS - chunk!.used, labels.length - offset);
      const block = packed.subarray(offset * dim, (offset + take) * dim);
      const norms = new Float32Array(take);
      for (let i = 0; i < take; i++) {
        const vector = block.subarray(i * dim, (i + 1) * dim);
        const squared = sumSquares(vector);
        norms[i] = this.metric === 'cosine' ? Math.sqrt(squared) : squared;
        this.#noteLabel(this.#count + i, labels[offset + i]!, vector);
      }
      if (isFull && take === CHUNK_ROWS) {
        // A whole chunk at once (loading a gallery): build it straight from the block.
        this.#chunks.push({
          data: tensor(block, { shape: [CHUNK_ROWS, dim] }),
          norms: tensor(norms, { shape: [1, CHUNK_ROWS] }),
          used: CHUNK_ROWS,
        });
      } else {
        if (isFull) {
          chunk = { data: empty([CHUNK_ROWS, dim]), norms: empty([1, CHUNK_ROWS]), used: 0 };
          chunk.norms.zero_();
          this.#chunks.push(chunk);
        }
        const rows = tensor(block, { shape: [take, dim] });
        const rowNorms = tensor(norms, { shape: [1, take] });
        const target = chunk!.data.narrow(0, chunk!.used, take);
        const normTarget = chunk!.norms.narrow(1, chunk!.used, take);
        target.copy_(rows);
        normTarget.copy_(rowNorms);
        for (const t of [rows, rowNorms, target, normTarget]) t.dispose();
        chunk!.used += take;
      }
      this.#count += take;
      offset += take;
    }
    if (labels.length > 0) this.#dropMeans();
  }

  #noteLabel(row: number, label: string, vector: Float32Array): void {
    let index = this.#labelIndex.get(label);
    if (index === undefined) {
      index = this.#labels.length;
      this.#labels.push(label);
      this.#labelIndex.set(label, index);
      if (this.#isTrackingMeans) this.#sums.push(new Float64Array(this.dim));
      this.#counts.push(0);
    }
    if (row >= this.#rowLabel.length) {
      const grown = new Int32Array(Math.max(row + 1, this.#rowLabel.length * 2));
      grown.set(this.#rowLabel);
      this.#rowLabel = grown;
    }
    this.#rowLabel[row] = index;
    this.#counts[index]! += 1;
    if (!this.#isTrackingMeans) return;
    const sum = this.#sums[index]!;
    for (let i = 0; i < this.dim; i++) sum[i]! += vector[i]!;
  }

  #dropMeans(): void {
    if (!this.#means) return;
    // A search in flight may still read the old tensors; its op holds its own reference.
    this.#means.data.dispose();
    this.#means.norms.dispose();
    this.#means = null;
  }

  #meanMatrix(): MeanMatrix {
    if (this.#means) return this.#means;
    if (!this.#isTrackingMeans) throw new TwinshotError('ERR_INTERNAL', 'this index keeps no class means');
    const classes = this.#labels.length;
    const flat = new Float32Array(classes * this.dim);
    const norms = new Float32Array(classes);
    const vectors: Float32Array[] = [];
    for (let c = 0; c < classes; c++) {
      const sum = this.#sums[c]!;
      const n = this.#counts[c]!;
      const mean = new Float32Array(this.dim);
      for (let i = 0; i < this.dim; i++) mean[i] = sum[i]! / n;
      flat.set(mean, c * this.dim);
      const squared = sumSquares(mean);
      norms[c] = this.metric === 'cosine' ? Math.sqrt(squared) : squared;
      vectors.push(mean);
    }
    this.#means = {
      data: tensor(flat, { shape: [classes, this.dim] }),
      norms: tensor(norms, { shape: [1, classes] }),
      vectors,
    };
    return this.#means;
  }

  /** The stored vector of one row (a copy). */
  #row(row: number): Float32Array {
    const chunk = this.#chunks[Math.floor(row / CHUNK_ROWS)]!;
    const view = chunk.data.select(0, row % CHUNK_ROWS);
    const data = view.data() as Float32Array;
    view.dispose();
    return data;
  }

  /** Scores [queries, rows] (lower is nearer, same order as the distance) for the given blocks. */
  async #scores(queries: Tensor, blocks: readonly Chunk[]): Promise<Tensor> {
    // Views are taken before the first await: each holds its own reference to the storage, so a
    // concurrent add() or retire() cannot pull a tensor out from under this search.
    const views = blocks.map((block) => ({
      rows: block.data.narrow(0, 0, block.used),
      norms: block.norms.narrow(1, 0, block.used),
    }));
    const parts: Tensor[] = [];
    try {
      for (const { rows, norms } of views) {
        if (this.metric === 'l1') {
          parts.push(await callAsync('cdist', queries.handle, rows.handle, 1));
          continue;
        }
        const transposed = rows.t();
        const dots = await callAsync('mm', queries.handle, transposed.handle);
        transposed.dispose();
        if (this.metric === 'l2') {
          // |q|^2 is the same for every row, so |x|^2 - 2 q.x ranks rows as |q - x| does.
          parts.push(norms.add(dots, -2));
        } else {
          // 1 - q.x / (|q||x|) ranks as -q.x / |x|; zero rows are guarded against 0/0.
          const safe = norms.clampMin(1e-12);
          const ratio = dots.div(safe);
          parts.push(ratio.neg());
          safe.dispose();
          ratio.dispose();
        }
        dots.dispose();
      }
      return parts.length === 1 ? parts.pop()! : cat(parts, 1);
    } finally {
      for (const t of parts) t.dispose();
      for (const { rows, norms } of views) {
        rows.dispose();
        norms.dispose();
      }
    }
  }

  /**
   * Ranks labels for each query: nearest first, at most `k` per query.
   * @param queries vectors of length `dim`
   */
  search(queries: readonly Float32Array[], options: { k: number; by: MatchMode }): Promise<Neighbour[][]> {
    if (this.#count === 0 || queries.length === 0 || options.k < 1) return Promise.resolve(queries.map(() => []));
    // Counted from enqueueing, so retire() cannot free the tensors under a queued search.
    this.#inFlight++;
    return new Promise((resolve, reject) => {
      this.#queue.push({ queries, k: options.k, by: options.by, resolve, reject });
      if (!this.#isSearching) void this.#drain();
    });
  }

  /**
   * Runs queued searches, one matrix product per match mode for all of them. Searches that
   * arrive while one runs wait for it and then go together: the gallery is read from memory once
   * for all of them (memory bandwidth bounds a scan), and nobody waits on a timer.
   */
  async #drain(): Promise<void> {
    this.#isSearching = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0);
        for (const by of ['example', 'mean'] as const) {
          const group = batch.filter((p) => p.by === by);
          if (group.length === 0) continue;
          try {
            const k = Math.max(...group.map((p) => p.k));
            const rankings = await this.#searchNow(
              group.flatMap((p) => p.queries),
              k,
              by,
            );
            let offset = 0;
            for (const pending of group) {
              pending.resolve(
                rankings.slice(offset, offset + pending.queries.length).map((r) => r.slice(0, pending.k)),
              );
              offset += pending.queries.length;
            }
          } catch (error) {
            for (const pending of group) pending.reject(error);
          } finally {
            this.#inFlight -= group.length;
            if (this.#isRetired && this.#inFlight === 0) this.#free();
          }
        }
      }
    } finally {
      this.#isSearching = false;
    }
  }

  async #searchNow(queries: readonly Float32Array[], k: number, by: MatchMode): Promise<Neighbour[][]> {
    const flat = new Float32Array(queries.length * this.dim);
    queries.forEach((q, i) => flat.set(q, i * this.dim));
    const q = tensor(flat, { shape: [queries.length, this.dim] });
    let scores: Tensor | null = null;
    try {
      const useMeans = by === 'mean';
      const means = useMeans ? this.#meanMatrix() : null;
      const blocks: Chunk[] = means
        ? [{ data: means.data, norms: means.norms, used: this.#labels.length }]
        : this.#chunks.map((c) => ({ ...c }));
      const rows = means ? this.#labels.length : this.#count;
      // Snapshot: rows appended while we await are not in `scores`, and must not be looked up.
      const rowLabel = this.#rowLabel;
      scores = await this.#scores(q, blocks);
      const vectorOf = (row: number): Float32Array => (means ? means.vectors[row]! : this.#row(row));
      const labelOf = (row: number): number => (means ? row : rowLabel[row]!);
      return this.#rank(scores, queries, rows, Math.min(k, this.#labels.length), vectorOf, labelOf);
    } finally {
      q.dispose();
      scores?.dispose();
    }
  }

  #rank(
    scores: Tensor,
    queries: readonly Float32Array[],
    rows: number,
    k: number,
    vectorOf: (row: number) => Float32Array,
    labelOf: (row: number) => number,
  ): Neighbour[][] {
    const results: Neighbour[][] = queries.map(() => []);
    const pending = new Set(queries.keys());
    // Start with a few candidates per wanted label; widen only for queries whose nearest rows
    // share labels (many examples per class), up to every row.
    let candidates = Math.min(rows, Math.max(4 * k, 32));
    for (;;) {
      const { values, indices } = scores.topk(candidates, { dim: 1, largest: false, sorted: true });
      const index = indices.data() as BigInt64Array;
      values.dispose();
      indices.dispose();
      for (const qi of [...pending]) {
        // The first row of each label in score order is its nearest; only those are re-scored.
        const firstRow = new Map<number, number>();
        for (let j = 0; j < candidates; j++) {
          const row = Number(index[qi * candidates + j]!);
          const label = labelOf(row);
          if (!firstRow.has(label)) firstRow.set(label, row);
        }
        if (firstRow.size >= k || candidates === rows) {
          results[qi] = [...firstRow]
            .map(([label, row]) => ({
              label: this.#labels[label]!,
              distance: vectorDistance(this.metric, queries[qi]!, vectorOf(row)),
            }))
            .sort((a, b) => a.distance - b.distance)
            .slice(0, k);
          pending.delete(qi);
        }
      }
      if (pending.size === 0) return results;
      candidates = Math.min(rows, candidates * 4);
    }
  }

  /** Frees the tensors once no search is using them. */
  retire(): void {
    this.#isRetired = true;
    if (this.#inFlight === 0) this.#free();
  }

  #free(): void {
    for (const chunk of this.#chunks) {
      chunk.data.dispose();
      chunk.norms.dispose();
    }
    this.#chunks = [];
    this.#dropMeans();
  }
}
