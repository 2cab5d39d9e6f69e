// Work that reads a whole gallery from SQLite: building or catching up its HNSW index, and
// computing its class means. It runs in a worker thread for a database file (minutes at
// 1,000,000 rows, off the event loop), or inline for an in-memory database, which a worker cannot see.
import type Database from 'better-sqlite3';
import { TwinshotError } from '../errors.js';
import { startWorker } from '../engine/worker-thread.js';
import { HnswIndex, latestIndexFile } from './hnsw-index.js';

/** Rows read (and added to the graph) per step. */
const READ_ROWS = 10_000;

export interface BuildTask {
  kind: 'build';
  galleryId: number;
  dim: number;
  metric: 'l2' | 'cosine';
  /** Where index files live; null for an in-memory database (nothing is saved). */
  folder: string | null;
}

export interface MeansTask {
  kind: 'means';
  galleryId: number;
  dim: number;
}

export interface ClassMeans {
  labels: string[];
  /** One mean per label, packed row after row. */
  means: Float32Array;
  /** Examples per label. */
  counts: Int32Array;
}

/** Calls `fn` with each run of rows after `afterId`, packed, in id order. */
export function forEachRows(
  db: Database.Database,
  galleryId: number,
  dim: number,
  afterId: number,
  fn: (ids: number[], labels: string[], packed: Float32Array) => void,
): void {
  const statement = db
    .prepare<[number, number, number], [number, string, Buffer]>(
      'SELECT id, label, vector FROM examples INDEXED BY examples_by_gallery WHERE gallery_id = ? AND id > ? ORDER BY id LIMIT ?',
    )
    .raw();
  let lastId = afterId;
  for (;;) {
    const rows = statement.all(galleryId, lastId, READ_ROWS);
    if (rows.length === 0) return;
    const packed = new Float32Array(rows.length * dim);
    const bytes = new Uint8Array(packed.buffer);
    rows.forEach(([id, , blob], i) => {
      if (blob.byteLength !== dim * 4) {
        throw new TwinshotError('ERR_STORE', `example ${id} holds ${blob.byteLength} bytes; expected ${dim * 4}`);
      }
      bytes.set(blob, i * dim * 4);
    });
    fn(
      rows.map((r) => r[0]),
      rows.map((r) => r[1]),
      packed,
    );
    lastId = rows[rows.length - 1]![0];
  }
}

/**
 * The gallery's index brought up to date: the newest saved file (if any) plus every row after
 * it, added on every core. Rows are read in steps, each its own snapshot: with one writer at a
 * time, rows committed later always have larger ids, so none is skipped.
 */
export function buildIndex(db: Database.Database, task: BuildTask): HnswIndex {
  const saved = task.folder ? latestIndexFile(task.folder, task.galleryId) : null;
  let index: HnswIndex | null = null;
  if (saved) {
    try {
      index = HnswIndex.load(saved.file, task.dim, task.metric);
    } catch {
      index = null; // a damaged file is rebuilt from the database
    }
  }
  index ??= HnswIndex.create(task.dim, task.metric);
  forEachRows(db, task.galleryId, task.dim, index.lastId, (ids, _labels, packed) => index.add(ids, packed, 0));
  return index;
}

/** Each label's mean, from one pass over the rows (sums in float64). */
export function computeMeans(db: Database.Database, task: MeansTask): ClassMeans {
  const { dim } = task;
  const slot = new Map<string, number>();
  const sums: Float64Array[] = [];
  const counts: number[] = [];
  forEachRows(db, task.galleryId, dim, 0, (_ids, labels, packed) => {
    labels.forEach((label, i) => {
      let s = slot.get(label);
      if (s === undefined) {
        s = sums.length;
        slot.set(label, s);
        sums.push(new Float64Array(dim));
        counts.push(0);
      }
      const sum = sums[s]!;
      for (let j = 0; j < dim; j++) sum[j]! += packed[i * dim + j]!;
      counts[s]! += 1;
    });
  });
  const means = new Float32Array(sums.length * dim);
  sums.forEach((sum, s) => {
    for (let j = 0; j < dim; j++) means[s * dim + j] = sum[j]! / counts[s]!;
  });
  return { labels: [...slot.keys()], means, counts: Int32Array.from(counts) };
}

export type BuilderReply =
  | { ok: true; kind: 'build'; file: string }
  | { ok: true; kind: 'means'; result: ClassMeans }
  | { ok: false; message: string };

/** Runs a task in a worker thread on its own read-only connection to `databaseFile`. */
export function runInWorker(databaseFile: string, task: BuildTask): Promise<{ file: string }>;
export function runInWorker(databaseFile: string, task: MeansTask): Promise<ClassMeans>;
export function runInWorker(databaseFile: string, task: BuildTask | MeansTask): Promise<{ file: string } | ClassMeans> {
  const worker = startWorker(import.meta.url, 'hnsw-build-worker', { databaseFile, task });
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.once('message', (reply: BuilderReply) => {
      settled = true;
      if (!reply.ok)
        reject(new TwinshotError('ERR_STORE', `SQLite store could not index its gallery: ${reply.message}`));
      else resolve(reply.kind === 'build' ? { file: reply.file } : reply.result);
    });
    worker.once('error', (error) => {
      settled = true;
      reject(new TwinshotError('ERR_STORE', `SQLite store's index worker failed: ${error.message}`, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new TwinshotError('ERR_STORE', `SQLite store's index worker exited (code ${code})`));
    });
  });
}
