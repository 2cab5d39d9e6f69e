// SqliteStore: the embedded gallery store (better-sqlite3, WAL). SQLite holds the durable copy;
// small galleries are mirrored into an in-memory VectorIndex for exact search, large ones are
// searched through an HNSW index kept in a file beside the database (hnsw-index.ts).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { TwinshotError } from '../errors.js';
import { galleryNotFound, storeError } from './store-errors.js';
import { vectorDistance, type SearchMetric } from '../models/embedder.js';
import { CHUNK_ROWS, VectorIndex } from './vector-index.js';
import { HnswIndex, hasHnsw, indexFolder, latestIndexFile, nearestLabels, removeIndexFiles } from './hnsw-index.js';
import { SQLITE_SEARCH_WIDTH, checkSearchWidth, hnswSearchWidth } from './search-width.js';
import { buildIndex, computeMeans, forEachRows, runInWorker, type BuildTask, type MeansTask } from './hnsw-builder.js';
import { PICTURES_SCHEMA, SqlitePictures } from './sqlite-pictures.js';
import type {
  ApiKeyRecord,
  BulkLoadOptions,
  ExampleBatches,
  ClassSummary,
  ExamplePicture,
  ExampleRecord,
  ExampleSummary,
  GalleryRecord,
  GallerySpec,
  GalleryStore,
  KeyScope,
  Neighbour,
  NewExample,
  SearchOptions,
} from './types.js';

/** How hard SQLite syncs each commit to disk (PRAGMA synchronous). */
export type SqliteSynchronous = 'full' | 'normal';

/** 'auto': exact below `exactBelow` examples, HNSW at and above; 'exact': always exact. */
export type SqliteSearch = 'auto' | 'exact';

/**
 * Galleries smaller than this are searched exactly: exact answers and no index to build, while an
 * exact search still costs a few milliseconds (1.9 ms of CPU at 10,000 256-d vectors against 0.33 ms
 * through HNSW; `npm run bench -- exact-or-hnsw`, docs/service.md).
 */
export const DEFAULT_EXACT_BELOW = 10_000;
/** Missing rows added to an HNSW index on the event loop's thread; more go to the index worker. */
const INLINE_CATCH_UP_ROWS = 1_000;
/** An index is saved once this many rows were added or removed since its file was written. */
const SAVE_EVERY_ROWS = 10_000;
/** Candidates asked of the HNSW index at most while looking for k distinct labels. */
const MAX_CANDIDATES = 16_384;

export interface SqliteStoreOptions {
  /**
   * 'full' (default): every commit is fsynced before it returns, so an enrolment answered with
   * success survives a power cut as well as a killed process. 'normal': in WAL mode a killed
   * process still loses nothing, but a power cut or OS crash can drop the last commits; it
   * saves one fsync per write. Enrolments are rare next to searches, so safety wins by default.
   */
  synchronous?: SqliteSynchronous;
  /** 'auto' (default) or 'exact' (no approximate index, at any size). */
  search?: SqliteSearch;
  /** Examples below which a gallery is searched exactly (default {@link DEFAULT_EXACT_BELOW}). */
  exactBelow?: number;
  /**
   * Candidates an HNSW search starts with (at least 4k), in place of the default that grows with
   * the gallery (search-width.ts): higher for recall, lower for speed; 1 to 1,000.
   */
  searchWidth?: number;
}

interface GalleryRow {
  id: number;
  name: string;
  model: string;
  dim: number;
  metric: SearchMetric;
  created_at: string;
  generation: number;
  epoch: number;
}

interface KeyRow {
  id: string;
  hash: string;
  gallery: string;
  scopes: string;
  name: string | null;
  created_at: string;
  revoked_at: string | null;
}

/** An exact index mirrors one gallery as of (generation); `epoch` changes when rows are removed. */
interface ExactState {
  kind: 'exact';
  galleryId: number;
  generation: number;
  epoch: number;
  /** Largest example id loaded; ids only grow (AUTOINCREMENT), so newer rows are id > lastId. */
  lastId: number;
  index: VectorIndex;
  /** Set while an HNSW index is being built to replace this one. */
  isPromoting?: boolean;
}

/**
 * An HNSW index of one gallery. Its answers are example ids whose labels are read from SQLite,
 * so rows removed by another process drop out there; `index.lastId` says which rows it lacks.
 */
interface HnswState {
  kind: 'hnsw';
  galleryId: number;
  generation: number;
  epoch: number;
  index: HnswIndex;
  /** Rows added or removed since the index file was written. */
  unsaved: number;
  /** Class means for search by mean, as of (generation, epoch). */
  means: { generation: number; epoch: number; index: VectorIndex } | null;
  meansLoading: Promise<VectorIndex> | null;
}

type IndexState = ExactState | HnswState;

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS galleries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  model TEXT NOT NULL,
  dim INTEGER NOT NULL,
  metric TEXT NOT NULL,
  created_at TEXT NOT NULL,
  generation INTEGER NOT NULL DEFAULT 0,
  epoch INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS examples (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  gallery_id INTEGER NOT NULL REFERENCES galleries(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  vector BLOB NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS examples_by_label ON examples(gallery_id, label);
-- Loading a gallery reads its rows in id order; without this index SQLite sorts every vector.
CREATE INDEX IF NOT EXISTS examples_by_gallery ON examples(gallery_id, id);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  gallery TEXT NOT NULL,
  scopes TEXT NOT NULL,
  name TEXT,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);
`;

/** Copies a BLOB into an aligned Float32Array (SQLite buffers need not be 4-byte aligned). */
function blobToVector(blob: Buffer): Float32Array {
  const out = new Float32Array(blob.byteLength / 4);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

function vectorToBlob(vector: Float32Array): Buffer {
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);
}

function keyFromRow(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    hash: row.hash,
    gallery: row.gallery,
    scopes: row.scopes.split(',').filter(Boolean) as KeyScope[],
    name: row.name,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}

/**
 * The embedded store: one SQLite file, safe to share between processes on one machine (the
 * server and the CLI). Writes are synchronous transactions; searches run on the in-memory index.
 *
 * @example
 * const store = SqliteStore.open('./twinshot-data/gallery.db');
 */
export class SqliteStore implements GalleryStore {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly #db: Database.Database;
  readonly #indexes = new Map<string, IndexState>();
  /** Loads and rebuilds in progress, so concurrent searches of a gallery wait for one. */
  readonly #loading = new Map<string, Promise<IndexState>>();
  /** The database file, or null for ':memory:' (indexes are then built inline and never saved). */
  readonly #file: string | null;
  /** Where HNSW index files live, beside the database file. */
  readonly #folder: string | null;
  readonly #search: SqliteSearch;
  readonly #exactBelow: number;
  readonly #searchWidth: number | undefined;
  readonly #synchronous: SqliteSynchronous;
  readonly #statements;
  readonly #pictures: SqlitePictures;

  private constructor(db: Database.Database, file: string, options: SqliteStoreOptions) {
    this.#db = db;
    this.location = `sqlite:${file}`;
    this.#file = file === ':memory:' ? null : path.resolve(file);
    this.#folder = this.#file === null ? null : indexFolder(this.#file);
    this.#search = options.search ?? 'auto';
    this.#synchronous = options.synchronous ?? 'full';
    this.#exactBelow = options.exactBelow ?? DEFAULT_EXACT_BELOW;
    this.#searchWidth = options.searchWidth;
    this.#pictures = new SqlitePictures(db);
    this.#statements = {
      gallery: db.prepare<[string], GalleryRow>('SELECT * FROM galleries WHERE name = ?'),
      galleries: db.prepare<[], GalleryRow>('SELECT * FROM galleries ORDER BY name'),
      counts: db.prepare<[number], { classes: number; examples: number }>(
        'SELECT count(DISTINCT label) AS classes, count(*) AS examples FROM examples WHERE gallery_id = ?',
      ),
      version: db.prepare<[string], { id: number; generation: number; epoch: number }>(
        'SELECT id, generation, epoch FROM galleries WHERE name = ?',
      ),
      versionById: db.prepare<[number], { generation: number; epoch: number }>(
        'SELECT generation, epoch FROM galleries WHERE id = ?',
      ),
      insertGallery: db.prepare(
        'INSERT INTO galleries (name, model, dim, metric, created_at) VALUES (@name, @model, @dim, @metric, @createdAt)',
      ),
      deleteGallery: db.prepare<[number]>('DELETE FROM galleries WHERE id = ?'),
      insertExample: db.prepare<[number, string, Buffer, string]>(
        'INSERT INTO examples (gallery_id, label, vector, created_at) VALUES (?, ?, ?, ?)',
      ),
      bump: db.prepare<[number, number]>(
        'UPDATE galleries SET generation = generation + 1, epoch = epoch + ? WHERE id = ? RETURNING generation, epoch',
      ),
      classes: db.prepare<[number], ClassSummary>(
        'SELECT label, count(*) AS examples FROM examples WHERE gallery_id = ? GROUP BY label ORDER BY label',
      ),
      removeClass: db
        .prepare<[number, string], [number]>('DELETE FROM examples WHERE gallery_id = ? AND label = ? RETURNING id')
        .raw(),
      countAfter: db.prepare<[number, number], { n: number }>(
        'SELECT count(*) AS n FROM examples INDEXED BY examples_by_gallery WHERE gallery_id = ? AND id > ?',
      ),
      // The examples an HNSW search found, with their float32 vectors for exact re-scoring (ids
      // as a JSON array; removed ones are absent). Rowid lookups only: with gallery_id in the WHERE
      // clause SQLite would scan the gallery's label index instead (milliseconds at 30,000 rows),
      // so the gallery is checked after.
      candidates: db
        .prepare<[string], [number, string, number, Buffer]>(
          'SELECT id, label, gallery_id, vector FROM examples WHERE id IN (SELECT value FROM json_each(?))',
        )
        .raw(),
      // Raw rows (arrays): loading 100,000s of rows skips building an object per row.
      rowsAfter: db
        .prepare<[number, number], [number, string, Buffer]>(
          'SELECT id, label, vector FROM examples INDEXED BY examples_by_gallery WHERE gallery_id = ? AND id > ? ORDER BY id',
        )
        .raw(),
      export: db.prepare<[number], { id: number; label: string; vector: Buffer; created_at: string }>(
        'SELECT id, label, vector, created_at FROM examples INDEXED BY examples_by_gallery WHERE gallery_id = ? ORDER BY id',
      ),
      insertKey: db.prepare(
        'INSERT INTO api_keys (id, hash, gallery, scopes, name, created_at, revoked_at) VALUES (@id, @hash, @gallery, @scopes, @name, @createdAt, @revokedAt)',
      ),
      keys: db.prepare<[], KeyRow>('SELECT * FROM api_keys ORDER BY created_at, id'),
      revokeKey: db.prepare<[string, string]>('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      keyByHash: db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE hash = ? AND revoked_at IS NULL'),
      anyKey: db.prepare<[], { found: number }>('SELECT 1 AS found FROM api_keys WHERE revoked_at IS NULL LIMIT 1'),
    };
  }

  /**
   * Opens (creating if needed) the database file and its folder.
   * @param file path of the database file, or ':memory:'
   * @throws TwinshotError ERR_STORE when the file cannot be opened or is not a twinshot database
   */
  static open(file: string, options: SqliteStoreOptions = {}): SqliteStore {
    const synchronous = options.synchronous ?? 'full';
    try {
      if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      const db = new Database(file);
      try {
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
        db.pragma('foreign_keys = ON');
        // The CLI and the server may write at once; wait for the other's lock instead of failing.
        db.pragma('busy_timeout = 5000');
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version > SCHEMA_VERSION) {
          throw new TwinshotError(
            'ERR_STORE',
            `${file} has schema version ${version}; this twinshot reads up to ${SCHEMA_VERSION}; upgrade twinshot`,
          );
        }
        db.exec(SCHEMA);
        // Added in place to databases made before examples kept pictures.
        db.exec(PICTURES_SCHEMA);
        db.pragma(`user_version = ${SCHEMA_VERSION}`);
      } catch (error) {
        db.close();
        throw error;
      }
      if (options.exactBelow !== undefined && !(Number.isInteger(options.exactBelow) && options.exactBelow >= 0)) {
        throw new TwinshotError('ERR_CONFIG', `exactBelow must be a whole number; got ${options.exactBelow}`);
      }
      checkSearchWidth(options.searchWidth);
      return new SqliteStore(db, file, options);
    } catch (error) {
      throw storeError('SQLite', `open ${file}`, error);
    }
  }

  #run<T>(action: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw storeError('SQLite', action, error);
    }
  }

  #record(row: GalleryRow): GalleryRecord {
    const counts = this.#statements.counts.get(row.id)!;
    return {
      name: row.name,
      model: row.model,
      dim: row.dim,
      metric: row.metric,
      createdAt: row.created_at,
      classes: counts.classes,
      examples: counts.examples,
    };
  }

  #require(name: string): GalleryRow {
    const row = this.#statements.gallery.get(name);
    if (!row) throw galleryNotFound(name);
    return row;
  }

  async createGallery(spec: GallerySpec): Promise<{ gallery: GalleryRecord; created: boolean }> {
    return this.#run('create a gallery', () =>
      this.#db
        .transaction(() => {
          const existing = this.#statements.gallery.get(spec.name);
          if (existing) {
            if (existing.model !== spec.model || existing.dim !== spec.dim || existing.metric !== spec.metric) {
              throw new TwinshotError(
                'ERR_CONFLICT',
                `gallery '${spec.name}' exists with model '${existing.model}' (${existing.dim}-d, ${existing.metric}); ` +
                  `this server embeds with '${spec.model}' (${spec.dim}-d, ${spec.metric}); delete it or use another name`,
              );
            }
            return { gallery: this.#record(existing), created: false };
          }
          this.#statements.insertGallery.run({ ...spec, createdAt: new Date().toISOString() });
          return { gallery: this.#record(this.#statements.gallery.get(spec.name)!), created: true };
        })
        .immediate(),
    );
  }

  async getGallery(name: string): Promise<GalleryRecord | null> {
    return this.#run('read a gallery', () => {
      const row = this.#statements.gallery.get(name);
      return row ? this.#record(row) : null;
    });
  }

  async describeGallery(name: string): Promise<GallerySpec | null> {
    return this.#run('read a gallery', () => {
      const row = this.#statements.gallery.get(name);
      return row ? { name: row.name, model: row.model, dim: row.dim, metric: row.metric } : null;
    });
  }

  async listGalleries(): Promise<GalleryRecord[]> {
    return this.#run('list galleries', () => this.#statements.galleries.all().map((row) => this.#record(row)));
  }

  async deleteGallery(name: string): Promise<boolean> {
    const deleted = this.#run('delete a gallery', () => {
      const row = this.#statements.gallery.get(name);
      if (!row) return false;
      this.#statements.deleteGallery.run(row.id);
      return row.id;
    });
    this.#dropIndex(name);
    if (deleted !== false && this.#folder) removeIndexFiles(this.#folder, deleted);
    return deleted !== false;
  }

  async addExamples(gallery: string, examples: readonly NewExample[]): Promise<string[]> {
    const now = new Date().toISOString();
    const { ids, row, version } = this.#run('add examples', () =>
      this.#db
        .transaction(() => {
          const row = this.#require(gallery);
          for (const { vector } of examples) {
            if (vector.length !== row.dim) {
              throw new TwinshotError(
                'ERR_SHAPE',
                `vectors of gallery '${gallery}' have ${row.dim} values; got ${vector.length}`,
              );
            }
          }
          const ids = examples.map(
            ({ label, vector }) =>
              this.#statements.insertExample.run(row.id, label, vectorToBlob(vector), now).lastInsertRowid,
          );
          const version = this.#statements.bump.get(0, row.id) as { generation: number; epoch: number };
          return { ids: ids.map(Number), row, version };
        })
        .immediate(),
    );
    // Keep a warm index in step without re-reading: only when it was current before this write.
    const state = this.#indexes.get(gallery);
    if (
      state &&
      state.galleryId === row.id &&
      state.generation === version.generation - 1 &&
      state.epoch === version.epoch &&
      ids.length > 0
    ) {
      if (state.kind === 'exact') {
        state.index.add(examples);
        state.generation = version.generation;
        // Ids only grow, so the last is the largest (no spread: it could be 100,000 arguments).
        state.lastId = ids[ids.length - 1]!;
        this.#promoteIfLarge(gallery, state);
      } else if (ids.length <= INLINE_CATCH_UP_ROWS) {
        const packed = new Float32Array(ids.length * row.dim);
        examples.forEach(({ vector }, i) => packed.set(vector, i * row.dim));
        state.index.add(ids, packed);
        state.generation = version.generation;
        this.#noteUnsaved(state, ids.length);
      }
      // A larger write to an HNSW gallery is added by the index worker at the next search.
    }
    return ids.map(String);
  }

  async addBulk(gallery: string, batches: ExampleBatches, options: BulkLoadOptions = {}): Promise<number> {
    // A connection of its own, so the open transaction holds only the load: the store's other
    // calls keep reading committed data meanwhile (an in-memory database has just the one).
    const db = this.#file === null ? this.#db : this.#openLoader();
    let written = 0;
    let galleryId: number;
    try {
      db.exec('BEGIN IMMEDIATE');
      try {
        const row = db.prepare<[string], GalleryRow>('SELECT * FROM galleries WHERE name = ?').get(gallery);
        if (!row) throw galleryNotFound(gallery);
        galleryId = row.id;
        const insert = db.prepare<[number, string, Buffer, string]>(
          'INSERT INTO examples (gallery_id, label, vector, created_at) VALUES (?, ?, ?, ?)',
        );
        const now = new Date().toISOString();
        for await (const batch of batches) {
          for (const { label, vector } of batch) {
            if (vector.length !== row.dim) {
              throw new TwinshotError(
                'ERR_SHAPE',
                `vectors of gallery '${gallery}' have ${row.dim} values; got ${vector.length} (example ${written + 1})`,
              );
            }
            insert.run(row.id, label, vectorToBlob(vector), now);
            written++;
          }
          options.onProgress?.(written);
          // Let the event loop serve others between batches.
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (written > 0) db.prepare('UPDATE galleries SET generation = generation + 1 WHERE id = ?').run(row.id);
        db.exec('COMMIT');
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      }
    } catch (error) {
      throw storeError('SQLite', 'load examples', error);
    } finally {
      if (db !== this.#db) db.close();
    }
    if (written > 0) await this.#indexAfterLoad(gallery, galleryId);
    return written;
  }

  #openLoader(): Database.Database {
    const db = new Database(this.#file!);
    db.pragma(`synchronous = ${this.#synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    return db;
  }

  /** After a bulk load: a large enough gallery gets its HNSW index built now, once, by the worker. */
  async #indexAfterLoad(gallery: string, galleryId: number): Promise<void> {
    const row = this.#run('read a gallery', () => this.#statements.gallery.get(gallery));
    if (!row || row.id !== galleryId || !this.#isHnswAllowed(row.metric)) return;
    const total = this.#run('count examples', () => this.#statements.countAfter.get(row.id, 0)!.n);
    if (total < this.#exactBelow) return;
    const metric = row.metric;
    await this.#once(gallery, async () => {
      const existing = this.#indexes.get(gallery);
      if (existing?.kind === 'hnsw' && existing.unsaved > 0) this.#save(existing);
      const index = await this.#buildHnsw(row.id, row.dim, metric, null);
      this.#dropIndex(gallery);
      const state = this.#hnswState(row.id, index);
      this.#indexes.set(gallery, state);
      return state;
    });
  }

  async listClasses(gallery: string): Promise<ClassSummary[]> {
    return this.#run('list classes', () => this.#statements.classes.all(this.#require(gallery).id));
  }

  async removeClass(gallery: string, label: string): Promise<number> {
    const { ids, version } = this.#run('remove a class', () =>
      this.#db
        .transaction(() => {
          const row = this.#require(gallery);
          const ids = this.#statements.removeClass.all(row.id, label).map(([id]) => id);
          const version =
            ids.length > 0 ? (this.#statements.bump.get(1, row.id) as { generation: number; epoch: number }) : null;
          return { ids, version };
        })
        .immediate(),
    );
    const state = this.#indexes.get(gallery);
    if (version && state?.kind === 'hnsw') {
      // Removed from the graph at once; a search would skip them anyway (their rows are gone).
      state.index.remove(ids);
      if (state.generation === version.generation - 1 && state.epoch === version.epoch - 1) {
        state.generation = version.generation;
        state.epoch = version.epoch;
      }
      this.#noteUnsaved(state, ids.length);
    } else if (version) {
      // An exact index re-reads the gallery at the next search (epoch changed); rare next to searches.
      this.#dropIndex(gallery);
    }
    return ids.length;
  }

  async search(gallery: string, queries: readonly Float32Array[], options: SearchOptions): Promise<Neighbour[][]> {
    const state = await this.#state(gallery);
    const { dim } = state.index;
    for (const q of queries) {
      if (q.length !== dim) {
        throw new TwinshotError('ERR_SHAPE', `queries of gallery '${gallery}' need ${dim} values; got ${q.length}`);
      }
    }
    if (state.kind === 'exact') return state.index.search(queries, options);
    if (options.by === 'mean') return (await this.#means(state)).search(queries, { k: options.k, by: 'example' });
    return queries.map((query) => this.#searchHnsw(state, query, options.k));
  }

  /**
   * k distinct labels from the HNSW index. The graph holds bfloat16 vectors, so its candidates are
   * looked up in SQLite (the source of truth: removed rows are gone there) and re-scored exactly
   * from their float32 vectors, as few as {@link nearestLabels} needs. The candidate count starts
   * at a width that grows with the index (search-width.ts) and grows fourfold while the
   * candidates hold fewer than k labels.
   */
  #searchHnsw(state: HnswState, query: Float32Array, k: number): Neighbour[] {
    const { index } = state;
    let squares = 0;
    for (const x of query) squares += x * x;
    const queryNorm = Math.sqrt(squares);
    const score = (ids: number[]): Neighbour[] =>
      this.#run('read examples', () => this.#statements.candidates.all(JSON.stringify(ids)))
        .filter(([, , galleryId]) => galleryId === state.galleryId)
        .map(([, label, , blob]) => ({ label, distance: vectorDistance(index.metric, query, blobToVector(blob)) }));
    let count = hnswSearchWidth(k, index.size, SQLITE_SEARCH_WIDTH, this.#searchWidth);
    for (;;) {
      const found = index.search(query, count);
      const { neighbours } = nearestLabels(found, k, score, (approximate) =>
        index.exactAtLeast(approximate, queryNorm),
      );
      if (neighbours.length >= k || found.ids.length < count || count >= MAX_CANDIDATES) return neighbours;
      count = Math.min(count * 4, MAX_CANDIDATES);
    }
  }

  /** Whether a gallery of this metric gets an HNSW index once it is large enough. */
  #isHnswAllowed(metric: SearchMetric): metric is 'l2' | 'cosine' {
    return this.#search === 'auto' && hasHnsw(metric);
  }

  /** The gallery's index, brought up to date with writes from this and other processes. */
  async #state(gallery: string): Promise<IndexState> {
    const version = this.#run('read a gallery', () => this.#statements.version.get(gallery));
    if (!version) {
      this.#dropIndex(gallery);
      throw galleryNotFound(gallery);
    }
    const loading = this.#loading.get(gallery);
    if (loading) await loading.catch(() => {});
    let state = this.#indexes.get(gallery);
    if (state && (state.galleryId !== version.id || (state.kind === 'exact' && state.epoch !== version.epoch))) {
      this.#dropIndex(gallery);
      state = undefined;
    }
    if (!state) {
      state = await this.#once(gallery, () => this.#open(gallery));
    }
    if (state.kind === 'exact') {
      if (state.generation !== version.generation) {
        // Another process appended rows: read only those (ids only grow).
        this.#catchUp(state);
        this.#promoteIfLarge(gallery, state);
      }
      return state;
    }
    if (state.generation !== version.generation || state.epoch !== version.epoch) {
      const current = state;
      state = await this.#once(gallery, () => this.#refreshHnsw(gallery, current, version));
    }
    return state;
  }

  /** Runs `load` once for concurrent callers of one gallery; later callers wait for the same promise. */
  async #once(gallery: string, load: () => Promise<IndexState>): Promise<IndexState> {
    const running = this.#loading.get(gallery);
    if (running) return running;
    const promise = load();
    this.#loading.set(gallery, promise);
    try {
      return await promise;
    } finally {
      this.#loading.delete(gallery);
    }
  }

  async #open(gallery: string): Promise<IndexState> {
    const row = this.#require(gallery);
    if (this.#isHnswAllowed(row.metric)) {
      const saved = this.#folder ? latestIndexFile(this.#folder, row.id) : null;
      const total = saved ? 0 : this.#run('count examples', () => this.#statements.countAfter.get(row.id, 0)!.n);
      if (saved || total >= this.#exactBelow) {
        const index = await this.#buildHnsw(row.id, row.dim, row.metric, saved?.file ?? null);
        const state = this.#hnswState(row.id, index);
        this.#indexes.set(gallery, state);
        return state;
      }
    }
    const state: ExactState = {
      kind: 'exact',
      galleryId: row.id,
      generation: -1,
      epoch: row.epoch,
      lastId: 0,
      index: new VectorIndex(row.dim, row.metric),
    };
    this.#catchUp(state);
    this.#indexes.set(gallery, state);
    return state;
  }

  #hnswState(galleryId: number, index: HnswIndex): HnswState {
    // generation -1: the first search counts the rows after index.lastId and adds any.
    return { kind: 'hnsw', galleryId, generation: -1, epoch: -1, index, unsaved: 0, means: null, meansLoading: null };
  }

  /**
   * An up-to-date HNSW index: the saved file loaded as it is when it lacks few rows (they are
   * added here), otherwise built or caught up by the index worker (on every core, off the event loop).
   */
  async #buildHnsw(
    galleryId: number,
    dim: number,
    metric: 'l2' | 'cosine',
    savedFile: string | null,
  ): Promise<HnswIndex> {
    if (savedFile) {
      const index = this.#tryLoad(savedFile, dim, metric);
      if (index) {
        const missing = this.#run('count examples', () => this.#statements.countAfter.get(galleryId, index.lastId)!.n);
        if (missing <= INLINE_CATCH_UP_ROWS) return index;
      }
    }
    const task: BuildTask = { kind: 'build', galleryId, dim, metric, folder: this.#folder };
    if (this.#file === null) return this.#run('build an index', () => buildIndex(this.#db, task));
    const { file } = await runInWorker(this.#file, task);
    const index = this.#tryLoad(file, dim, metric);
    if (!index) throw new TwinshotError('ERR_STORE', `SQLite store could not read the index it built (${file})`);
    return index;
  }

  #tryLoad(file: string, dim: number, metric: 'l2' | 'cosine'): HnswIndex | null {
    try {
      return HnswIndex.load(file, dim, metric);
    } catch {
      return null; // damaged or from another version: rebuilt from the database
    }
  }

  /** Adds the rows another process (or a large write) appended, inline when few, else through the worker. */
  async #refreshHnsw(
    gallery: string,
    state: HnswState,
    version: { generation: number; epoch: number },
  ): Promise<IndexState> {
    const missing = this.#run(
      'count examples',
      () => this.#statements.countAfter.get(state.galleryId, state.index.lastId)!.n,
    );
    if (missing <= INLINE_CATCH_UP_ROWS) {
      this.#run('read examples', () =>
        forEachRows(this.#db, state.galleryId, state.index.dim, state.index.lastId, (ids, _labels, packed) =>
          state.index.add(ids, packed),
        ),
      );
      this.#noteUnsaved(state, missing);
    } else {
      // Save first, so the worker starts from this index rather than an older file.
      if (state.unsaved > 0) this.#save(state);
      const { dim, metric } = state.index;
      state.index = await this.#buildHnsw(state.galleryId, dim, metric, null);
      state.unsaved = 0;
    }
    state.generation = version.generation;
    state.epoch = version.epoch;
    this.#indexes.set(gallery, state);
    return state;
  }

  /** Replaces an exact index that outgrew `exactBelow` by an HNSW index, built in the background. */
  #promoteIfLarge(gallery: string, state: ExactState): void {
    const { metric, dim } = state.index;
    if (state.isPromoting || state.index.size < this.#exactBelow || !hasHnsw(metric) || this.#search !== 'auto') return;
    state.isPromoting = true;
    // Searches keep using the exact index meanwhile.
    this.#buildHnsw(state.galleryId, dim, metric, null).then(
      (index) => {
        if (this.#indexes.get(gallery) !== state) return; // dropped or replaced meanwhile
        const next = this.#hnswState(state.galleryId, index);
        this.#indexes.set(gallery, next);
        if (this.#folder) this.#save(next);
        state.index.retire();
      },
      () => {
        state.isPromoting = false; // tried again after the next write
      },
    );
  }

  #noteUnsaved(state: HnswState, rows: number): void {
    state.unsaved += rows;
    // Means are recomputed at the next search by mean; a search using them keeps them until it ends.
    state.means?.index.retire();
    state.means = null;
    if (state.unsaved >= SAVE_EVERY_ROWS) this.#save(state);
  }

  /** Writes the index file (crash-safely); a failure leaves the older file, which catches up from SQLite. */
  #save(state: HnswState): void {
    if (!this.#folder) return;
    try {
      state.index.save(this.#folder, state.galleryId);
      state.unsaved = 0;
    } catch {
      // Not fatal: the index in memory is current, and the next save or restart catches up.
    }
  }

  /** Class means of an HNSW gallery as an exact index of one row per label, recomputed after writes. */
  async #means(state: HnswState): Promise<VectorIndex> {
    const { generation, epoch } = state;
    if (state.means && state.means.generation === generation && state.means.epoch === epoch) return state.means.index;
    state.meansLoading ??= (async () => {
      try {
        const task: MeansTask = { kind: 'means', galleryId: state.galleryId, dim: state.index.dim };
        const means =
          this.#file === null
            ? this.#run('read examples', () => computeMeans(this.#db, task))
            : await runInWorker(this.#file, task);
        const index = new VectorIndex(state.index.dim, state.index.metric, { trackMeans: false });
        index.addPacked(means.labels, means.means);
        state.means?.index.retire();
        state.means = { generation, epoch, index };
        return index;
      } finally {
        state.meansLoading = null;
      }
    })();
    return state.meansLoading;
  }

  #catchUp(cached: ExactState): void {
    this.#run('read examples', () =>
      this.#db
        .transaction(() => {
          // One read transaction, so the generation read matches the rows read.
          const version = this.#statements.versionById.get(cached.galleryId);
          if (!version) return;
          // Rows are copied straight from their BLOBs into one packed block per chunk.
          const { dim } = cached.index;
          let labels: string[] = [];
          let packed = new Float32Array(CHUNK_ROWS * dim);
          let bytes = new Uint8Array(packed.buffer);
          for (const [id, label, blob] of this.#statements.rowsAfter.iterate(cached.galleryId, cached.lastId)) {
            if (blob.byteLength !== dim * 4) {
              throw new TwinshotError('ERR_STORE', `example ${id} holds ${blob.byteLength} bytes; expected ${dim * 4}`);
            }
            bytes.set(blob, labels.length * dim * 4);
            labels.push(label);
            cached.lastId = id;
            if (labels.length === CHUNK_ROWS) {
              cached.index.addPacked(labels, packed);
              labels = [];
              packed = new Float32Array(CHUNK_ROWS * dim);
              bytes = new Uint8Array(packed.buffer);
            }
          }
          cached.index.addPacked(labels, packed.subarray(0, labels.length * dim));
          cached.generation = version.generation;
        })
        .deferred(),
    );
  }

  #dropIndex(gallery: string): void {
    const state = this.#indexes.get(gallery);
    if (state?.kind === 'exact') state.index.retire();
    if (state?.kind === 'hnsw') state.means?.index.retire();
    this.#indexes.delete(gallery);
  }

  async exportExamples(gallery: string): Promise<ExampleRecord[]> {
    return this.#run('export examples', () =>
      this.#statements.export.all(this.#require(gallery).id).map((row) => ({
        id: String(row.id),
        label: row.label,
        vector: blobToVector(row.vector),
        createdAt: row.created_at,
      })),
    );
  }

  async putPictures(gallery: string, pictures: readonly { id: string; picture: ExamplePicture }[]): Promise<void> {
    this.#run('keep pictures', () => this.#pictures.put(this.#require(gallery).id, pictures));
  }

  async getPictures(gallery: string, ids: readonly string[]): Promise<Map<string, ExamplePicture>> {
    return this.#run('read pictures', () => this.#pictures.get(this.#require(gallery).id, ids));
  }

  async classPictures(gallery: string): Promise<Map<string, string>> {
    return this.#run('read pictures', () => this.#pictures.byClass(this.#require(gallery).id));
  }

  async listExamples(gallery: string, label: string): Promise<ExampleSummary[]> {
    return this.#run('list examples', () => this.#pictures.list(this.#require(gallery).id, label));
  }

  async createKey(key: ApiKeyRecord): Promise<void> {
    this.#run('create a key', () => this.#statements.insertKey.run({ ...key, scopes: key.scopes.join(',') }));
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    return this.#run('list keys', () => this.#statements.keys.all().map(keyFromRow));
  }

  async revokeKey(id: string): Promise<boolean> {
    return this.#run('revoke a key', () => this.#statements.revokeKey.run(new Date().toISOString(), id).changes > 0);
  }

  async findKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    return this.#run('look up a key', () => {
      const row = this.#statements.keyByHash.get(hash);
      return row ? keyFromRow(row) : null;
    });
  }

  async hasActiveKeys(): Promise<boolean> {
    return this.#run('look up keys', () => this.#statements.anyKey.get() !== undefined);
  }

  async ping(): Promise<void> {
    this.#run('answer', () => this.#db.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#loading.values()]);
    for (const [name, state] of this.#indexes) {
      // A clean shutdown saves what the file lacks, so a restart needs no catch-up.
      if (state.kind === 'hnsw' && state.unsaved > 0) this.#save(state);
      this.#dropIndex(name);
    }
    if (this.#db.open) this.#db.close();
  }
}
