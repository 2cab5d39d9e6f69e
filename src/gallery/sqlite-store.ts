// SqliteStore: the embedded gallery store (better-sqlite3, WAL). SQLite holds the durable copy;
// each gallery's vectors are mirrored into an in-memory VectorIndex for exact search.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { TwinshotError } from '../errors.js';
import { galleryNotFound, storeError } from './store-errors.js';
import type { SearchMetric } from '../models/embedder.js';
import { CHUNK_ROWS, VectorIndex } from './vector-index.js';
import { PICTURES_SCHEMA, SqlitePictures } from './sqlite-pictures.js';
import type {
  ApiKeyRecord,
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

export interface SqliteStoreOptions {
  /**
   * 'full' (default): every commit is fsynced before it returns, so an enrolment answered with
   * success survives a power cut as well as a killed process. 'normal': in WAL mode a killed
   * process still loses nothing, but a power cut or OS crash can drop the last commits; it
   * saves one fsync per write. Enrolments are rare next to searches, so safety wins by default.
   */
  synchronous?: SqliteSynchronous;
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

/** An index mirrors one gallery as of (generation); `epoch` changes when rows are removed. */
interface CachedIndex {
  galleryId: number;
  generation: number;
  epoch: number;
  /** Largest example id loaded; ids only grow (AUTOINCREMENT), so newer rows are id > lastId. */
  lastId: number;
  index: VectorIndex;
}

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
  readonly #indexes = new Map<string, CachedIndex>();
  /** Loads in progress, so concurrent searches on a cold gallery read the table once. */
  readonly #loading = new Map<string, Promise<CachedIndex>>();
  readonly #statements;
  readonly #pictures: SqlitePictures;

  private constructor(db: Database.Database, location: string) {
    this.#db = db;
    this.location = location;
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
      removeClass: db.prepare<[number, string]>('DELETE FROM examples WHERE gallery_id = ? AND label = ?'),
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
      return new SqliteStore(db, `sqlite:${file}`);
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
      return true;
    });
    this.#dropIndex(name);
    return deleted;
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
    const cached = this.#indexes.get(gallery);
    if (
      cached &&
      cached.galleryId === row.id &&
      cached.generation === version.generation - 1 &&
      cached.epoch === version.epoch
    ) {
      cached.index.add(examples);
      cached.generation = version.generation;
      // Ids only grow, so the last is the largest (no spread: it could be 100,000 arguments).
      if (ids.length > 0) cached.lastId = ids[ids.length - 1]!;
    }
    return ids.map(String);
  }

  async listClasses(gallery: string): Promise<ClassSummary[]> {
    return this.#run('list classes', () => this.#statements.classes.all(this.#require(gallery).id));
  }

  async removeClass(gallery: string, label: string): Promise<number> {
    const removed = this.#run('remove a class', () =>
      this.#db
        .transaction(() => {
          const row = this.#require(gallery);
          const { changes } = this.#statements.removeClass.run(row.id, label);
          if (changes > 0) this.#statements.bump.run(1, row.id);
          return changes;
        })
        .immediate(),
    );
    // Removal re-reads the gallery at the next search (epoch changed); rare next to searches.
    if (removed > 0) this.#dropIndex(gallery);
    return removed;
  }

  async search(gallery: string, queries: readonly Float32Array[], options: SearchOptions): Promise<Neighbour[][]> {
    const cached = await this.#index(gallery);
    for (const q of queries) {
      if (q.length !== cached.index.dim) {
        throw new TwinshotError(
          'ERR_SHAPE',
          `queries of gallery '${gallery}' need ${cached.index.dim} values; got ${q.length}`,
        );
      }
    }
    return cached.index.search(queries, options);
  }

  /** The gallery's index, brought up to date with writes from this and other processes. */
  async #index(gallery: string): Promise<CachedIndex> {
    const version = this.#run('read a gallery', () => this.#statements.version.get(gallery));
    if (!version) {
      this.#dropIndex(gallery);
      throw galleryNotFound(gallery);
    }
    let cached = this.#indexes.get(gallery);
    if (cached && (cached.galleryId !== version.id || cached.epoch !== version.epoch)) {
      this.#dropIndex(gallery);
      cached = undefined;
    }
    if (!cached) {
      const loading = this.#loading.get(gallery) ?? this.#load(gallery);
      this.#loading.set(gallery, loading);
      try {
        cached = await loading;
      } finally {
        this.#loading.delete(gallery);
      }
    }
    if (cached.generation !== version.generation) {
      // Another process appended rows: read only those (ids only grow).
      this.#catchUp(cached);
    }
    return cached;
  }

  async #load(gallery: string): Promise<CachedIndex> {
    const row = this.#require(gallery);
    const cached: CachedIndex = {
      galleryId: row.id,
      generation: -1,
      epoch: row.epoch,
      lastId: 0,
      index: new VectorIndex(row.dim, row.metric),
    };
    this.#catchUp(cached);
    this.#indexes.set(gallery, cached);
    return cached;
  }

  #catchUp(cached: CachedIndex): void {
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
    this.#indexes.get(gallery)?.index.retire();
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
    for (const name of [...this.#indexes.keys()]) this.#dropIndex(name);
    if (this.#db.open) this.#db.close();
  }
}
