// HnswIndex: an approximate nearest-neighbour index (usearch's HNSW graph) over one gallery's
// examples, keyed by example id, and its file beside the SQLite database, written crash-safely.
// The graph holds bfloat16 copies of the vectors: half the memory of float32, and at 1,000,000
// rows a build about 2.6 times as fast on this machine (AVX-512 BF16), with the same recall once the
// store re-scores the candidates from the float32 vectors in SQLite (`npm run bench --
// search-width`, docs/benchmarks.md). bfloat16 keeps float32's exponent, so vectors of any length
// keep their l2 geometry; usearch's int8 scales each vector to unit length, which loses it.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Index } from 'usearch';
import { TwinshotError } from '../errors.js';
import type { SearchMetric } from '../models/embedder.js';
import type { Neighbour } from './types.js';

/**
 * Graph parameters. M 16 is pgvector's default. ef_construction 40 (pgvector's is 64) builds the
 * 1,000,000-row bench graph in 131 s instead of 190 s with the same recall@10: 0.989 at 160
 * candidates, 0.993 at the 192 the store asks for there (`npm run bench -- search-width
 * --expansion-add 40`). A search explores at least 64 candidates (usearch widens it to the number
 * asked for).
 */
export const HNSW_CONNECTIVITY = 16;
export const HNSW_EXPANSION_ADD = 40;
export const HNSW_EXPANSION_SEARCH = 64;
// usearch's ES module locates its addon from a stack trace, which never ends inside a worker
// thread run through tsx; its CommonJS build uses __dirname and loads everywhere.
const usearch = createRequire(import.meta.url)('usearch') as typeof import('usearch');

/** Bump when the file layout or parameters change: older files are then rebuilt, not misread. */
const FILE_VERSION = 2;
/** The graph's scalar type and its size in bytes (version 1 files held float32). */
const SCALAR = usearch.ScalarKind.BF16;
const SCALAR_BYTES = 2;
/** `gallery-<id>.v<version>.upto-<lastId>.<bytes>b.usearch`: the length lets a truncated file be refused. */
const FILE_PATTERN = /^gallery-(\d+)\.v(\d+)\.upto-(\d+)\.(\d+)b\.usearch$/;

/** usearch has no l1 metric: l1 galleries (Koch et al.'s head) are searched exactly. */
export function hasHnsw(metric: SearchMetric): metric is 'l2' | 'cosine' {
  return metric === 'l2' || metric === 'cosine';
}

function threadsFromEnvironment(): number {
  const threads = Number(process.env.TWINSHOT_NUM_THREADS);
  return Number.isInteger(threads) && threads > 0 ? threads : 0; // 0: usearch uses every core
}

/** The folder that holds a database's index files: `gallery.db` -> `gallery.db.hnsw/`. */
export function indexFolder(databaseFile: string): string {
  return `${path.resolve(databaseFile)}.hnsw`;
}

/** The newest complete index file of a gallery (highest `upto`), or null. */
export function latestIndexFile(folder: string, galleryId: number): { file: string; lastId: number } | null {
  let best: { file: string; lastId: number } | null = null;
  for (const name of safeReaddir(folder)) {
    const match = FILE_PATTERN.exec(name);
    if (!match || Number(match[1]) !== galleryId || Number(match[2]) !== FILE_VERSION) continue;
    const lastId = Number(match[3]);
    if (!best || lastId > best.lastId) best = { file: path.join(folder, name), lastId };
  }
  return best;
}

/**
 * Deletes a gallery's index files older than `keep` (all of them without it), and temporary files
 * this process left or that are over an hour old. Newer files (another process saved after us)
 * stay, so two processes saving at once never delete each other's latest.
 */
export function removeIndexFiles(folder: string, galleryId: number, keep?: { lastId: number; file: string }): void {
  for (const name of safeReaddir(folder)) {
    const temporary = /^gallery-(\d+)\..*\.tmp-(\d+)$/.exec(name);
    const match = temporary ? null : FILE_PATTERN.exec(name);
    if (Number((temporary ?? match)?.[1]) !== galleryId) continue;
    const file = path.join(folder, name);
    if (temporary) {
      const isOurs = Number(temporary[2]) === process.pid;
      const isStale = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0) > 3_600_000;
      if (isOurs || isStale) fs.rmSync(file, { force: true });
    } else if (
      match &&
      (!keep ||
        Number(match[2]) !== FILE_VERSION ||
        Number(match[3]) < keep.lastId ||
        (Number(match[3]) === keep.lastId && file !== keep.file))
    ) {
      fs.rmSync(file, { force: true });
    }
  }
}

function safeReaddir(folder: string): string[] {
  try {
    return fs.readdirSync(folder);
  } catch {
    return [];
  }
}

/** One nearest-example answer: example ids, nearest first, with their bfloat16 distances. */
export interface HnswMatches {
  ids: number[];
  distances: number[];
}

/**
 * The `k` nearest labels among an HNSW search's candidates by exact distance, re-scoring as few
 * as it can: candidates are scored nearest first (by approximate distance) in batches of
 * max(4k, 16) that double, until no later candidate can come within the k-th label's distance.
 * The answer is the one scoring every candidate would give.
 * @param score the label and exact distance of each id whose example still exists
 * @param exactAtLeast the least exact distance of a candidate at an approximate distance
 * @returns nearest first, at most `k` (fewer when the candidates hold fewer labels), and how many
 *   candidates were scored
 */
export function nearestLabels(
  found: HnswMatches,
  k: number,
  score: (ids: number[]) => Neighbour[],
  exactAtLeast: (approximate: number) => number,
): { neighbours: Neighbour[]; read: number } {
  const best = new Map<string, number>();
  let read = 0;
  for (let batch = Math.max(4 * k, 16); read < found.ids.length; batch *= 2) {
    const ids = found.ids.slice(read, read + batch);
    read += ids.length;
    for (const { label, distance } of score(ids)) if (!(best.get(label)! <= distance)) best.set(label, distance);
    if (best.size < k || read === found.ids.length) continue;
    // Approximate distances are sorted, so the next candidate's bound holds for every later one.
    const kth = [...best.values()].sort((a, b) => a - b)[k - 1]!;
    if (kth < exactAtLeast(found.distances[read]!)) break;
  }
  const neighbours = [...best]
    .sort((a, b) => a[1] - b[1])
    .slice(0, k)
    .map(([label, distance]) => ({ label, distance }));
  return { neighbours, read };
}

/** Twice bfloat16's unit roundoff: see {@link HnswIndex#exactAtLeast}. */
const EPSILON = 2 ** -7;

/**
 * The HNSW graph of one gallery. Keys are example ids, so search answers are looked up in SQLite
 * (the source of truth): a row removed by another process is filtered out there.
 */
export class HnswIndex {
  readonly dim: number;
  readonly metric: 'l2' | 'cosine';
  /** Largest example id the index holds; rows with larger ids are what it lacks (ids only grow). */
  lastId: number;
  #index: Index;

  private constructor(dim: number, metric: 'l2' | 'cosine', lastId: number) {
    this.dim = dim;
    this.metric = metric;
    this.lastId = lastId;
    this.#index = new usearch.Index({
      dimensions: dim,
      metric: metric === 'l2' ? usearch.MetricKind.L2sq : usearch.MetricKind.Cos,
      quantization: SCALAR,
      connectivity: HNSW_CONNECTIVITY,
      expansion_add: HNSW_EXPANSION_ADD,
      expansion_search: HNSW_EXPANSION_SEARCH,
      multi: false,
    });
  }

  static create(dim: number, metric: 'l2' | 'cosine'): HnswIndex {
    return new HnswIndex(dim, metric, 0);
  }

  /**
   * Loads a file written by {@link HnswIndex#save}, after checking what usearch would trust
   * blindly (a damaged file can crash it): the length the name records, the vector block's
   * header and the index's magic bytes after it.
   * @throws ERR_STORE when it is unreadable, damaged or of another shape
   */
  static load(file: string, dim: number, metric: 'l2' | 'cosine'): HnswIndex {
    const match = FILE_PATTERN.exec(path.basename(file));
    if (!match) throw new TwinshotError('ERR_STORE', `${file} is not named like an index file`);
    const damaged = (why: string): TwinshotError =>
      new TwinshotError('ERR_STORE', `index file ${file} ${why}; it will be rebuilt`);
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size !== Number(match[4])) throw damaged(`holds ${size} bytes where ${match[4]} were written`);
      const head = Buffer.alloc(8);
      fs.readSync(fd, head, 0, 8, 0);
      const rows = head.readUInt32LE(0);
      const rowBytes = head.readUInt32LE(4);
      if (rowBytes !== dim * SCALAR_BYTES) {
        throw damaged(`holds ${rowBytes / SCALAR_BYTES}-d vectors where ${dim} were expected`);
      }
      const magic = Buffer.alloc(7);
      const at = 8 + rows * rowBytes;
      if (at + 7 > size || fs.readSync(fd, magic, 0, 7, at) !== 7 || magic.toString('latin1') !== 'usearch') {
        throw damaged('is not a complete usearch index');
      }
    } finally {
      fs.closeSync(fd);
    }
    const index = new HnswIndex(dim, metric, Number(match[3]));
    try {
      index.#index.load(file);
    } catch (error) {
      throw damaged(`could not be read (${(error as Error).message})`);
    }
    return index;
  }

  /** Number of vectors held (removed ones excluded). */
  get size(): number {
    return this.#index.size();
  }

  /**
   * Adds rows packed one after another (`ids.length * dim` values); ids must be larger than any held.
   * @param threads 0 for every core (bulk builds in the worker), 1 on the event loop's thread
   */
  add(ids: readonly number[], packed: Float32Array, threads = 1): void {
    if (ids.length === 0) return;
    this.#index.add(BigUint64Array.from(ids, BigInt), packed, threads === 0 ? threadsFromEnvironment() : threads);
    this.lastId = Math.max(this.lastId, ids[ids.length - 1]!);
  }

  remove(ids: readonly number[]): void {
    if (ids.length > 0) this.#index.remove(BigUint64Array.from(ids, BigInt));
  }

  /**
   * The `count` nearest examples of `query` (fewer when the index holds fewer), nearest first by
   * their bfloat16 distance (l2 or 1 - cos): the caller re-scores them from the float32 vectors.
   */
  search(query: Float32Array, count: number): HnswMatches {
    const wanted = Math.min(count, this.size);
    if (wanted === 0) return { ids: [], distances: [] };
    const found = this.#index.search(query, wanted, 1);
    const ids = Array.from(found.keys, Number);
    // usearch reports squared l2 (computed from differences, so exact near zero) and 1 - cos.
    const distances = Array.from(found.distances, (d) => (this.metric === 'l2' ? Math.sqrt(Math.max(0, d)) : d));
    return { ids, distances };
  }

  /**
   * The least float32 distance an example can have when its bfloat16 distance from a query of
   * length `queryNorm` is `approximate`. bfloat16 rounds each value to 8 significant bits, so a
   * vector moves by at most 2^-8 of its length; twice that (EPSILON) leaves room for the kernel's
   * own rounding. For l2, |d' - d| <= EPSILON (|q| + |x| + d) and |x| <= |q| + d; for cosine, the
   * chord between unit vectors, sqrt(2 (1 - cos)), moves by at most 4 EPSILON.
   */
  exactAtLeast(approximate: number, queryNorm: number): number {
    if (this.metric === 'l2') return Math.max(0, (approximate - 2 * EPSILON * queryNorm) / (1 + 2 * EPSILON));
    const chord = Math.sqrt(2 * Math.max(0, approximate)) - 4 * EPSILON;
    return chord > 0 ? (chord * chord) / 2 : 0;
  }

  /**
   * Writes the index crash-safely: to a temporary file, fsynced, then renamed to a name that
   * records `lastId`, and the folder fsynced; older files of the gallery are deleted after. A
   * crash at any point leaves the previous complete file, and the store catches up from SQLite.
   * @returns the new file
   */
  save(folder: string, galleryId: number): string {
    fs.mkdirSync(folder, { recursive: true });
    const stem = path.join(folder, `gallery-${galleryId}.v${FILE_VERSION}.upto-${this.lastId}`);
    const temporary = `${stem}.tmp-${process.pid}`;
    this.#index.save(temporary);
    const fd = fs.openSync(temporary, 'r+');
    let bytes: number;
    try {
      fs.fsyncSync(fd);
      bytes = fs.fstatSync(fd).size;
    } finally {
      fs.closeSync(fd);
    }
    const file = `${stem}.${bytes}b.usearch`;
    fs.renameSync(temporary, file);
    const dir = fs.openSync(folder, 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    removeIndexFiles(folder, galleryId, { lastId: this.lastId, file });
    return file;
  }
}
