// PostgresStore: galleries in PostgreSQL with pgvector, one table per gallery with an HNSW index,
// for several server processes and machines sharing one database. Tables live in
// postgres-tables.ts, bulk writes in postgres-bulk.ts, the index in postgres-index.ts, keys in
// postgres-keys.ts; this file opens the store and runs each operation in its transaction.
import pg from 'pg';
import { TwinshotError } from '../errors.js';
import { galleryNotFound, storeError } from './store-errors.js';
import { BULK_LOAD_ROWS, copyExamples, insertExamples } from './postgres-bulk.js';
import { createHnswIndex, dropHnswIndex, searchExamples, searchMeans } from './postgres-index.js';
import { postgresKeys } from './postgres-keys.js';
import { checkSearchWidth } from './search-width.js';
import {
  GalleryTables,
  createSharedTables,
  parseVector,
  quoteIdent,
  vectorLiteral,
  type GalleryRow,
} from './postgres-tables.js';
import { PostgresPictures, picturesTableStatement } from './postgres-pictures.js';
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
  Neighbour,
  NewExample,
  SearchOptions,
} from './types.js';

export interface PostgresStoreOptions {
  /** Schema holding twinshot's tables (default 'public'); tests give each run its own. */
  schema?: string;
  /** Largest number of pooled connections (default 10). */
  maxConnections?: number;
  /**
   * hnsw.ef_search a search starts with (at least 4k), in place of the default that grows with
   * the gallery (search-width.ts): higher for recall, lower for speed; 1 to 1,000.
   */
  searchWidth?: number;
}

const SCHEMA_LOCK = 0x7477_696e; // 'twin': serialises schema creation between processes
/** Writes of more labels than this lock the whole gallery's class means instead of each label. */
const MAX_LABEL_LOCKS = 32;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The scale-out store: PostgreSQL with the pgvector extension. Each gallery has its own table
 * (its vector dimension and metric fixed) with an HNSW index, and a table of class means kept
 * up to date in the same transaction as each write.
 *
 * Search by example is approximate once a gallery outgrows what HNSW scans exactly (recall is
 * typically above 0.95 at the default settings); search by mean is an exact scan of the means.
 *
 * @example
 * const store = await PostgresStore.open('postgres://user@db/twinshot');
 */
export class PostgresStore implements GalleryStore {
  readonly kind = 'postgres' as const;
  readonly location: string;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #searchWidth: number | undefined;

  private constructor(pool: pg.Pool, location: string, schema: string, searchWidth: number | undefined) {
    this.#pool = pool;
    this.location = location;
    this.#schema = schema;
    this.#searchWidth = searchWidth;
  }

  /**
   * Connects, installs the vector extension when allowed, and creates twinshot's tables.
   * @throws TwinshotError ERR_STORE when the database is unreachable or pgvector is missing
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const schema = options.schema ?? 'public';
    checkSearchWidth(options.searchWidth);
    if (!SCHEMA_NAME.test(schema)) {
      throw new TwinshotError(
        'ERR_ARGUMENT',
        `schema must be lower-case letters, digits and '_' (at most 63); got ${JSON.stringify(schema)}`,
      );
    }
    const redacted = redactUrl(url);
    let vectorSchema: string;
    // One bootstrap connection creates what is missing, then the pool opens with the search path.
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => {});
    try {
      await client.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
        try {
          await client.query('SAVEPOINT extension');
          await client.query('CREATE EXTENSION IF NOT EXISTS vector');
        } catch (error) {
          await client.query('ROLLBACK TO SAVEPOINT extension');
          const installed = await client.query("SELECT 1 FROM pg_extension WHERE extname = 'vector'");
          if (installed.rowCount === 0) {
            throw new TwinshotError(
              'ERR_STORE',
              `the pgvector extension is not installed in this database and could not be created (${(error as Error).message}); ` +
                'install pgvector on the server (Debian: postgresql-NN-pgvector, or scripts/setup-pgvector.sh) and run CREATE EXTENSION vector as a superuser',
            );
          }
        }
        const found = await client.query<{ nspname: string }>(
          "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'",
        );
        vectorSchema = found.rows[0]!.nspname;
        await createSharedTables(client, schema);
        // Added in place to databases made before examples kept pictures.
        await client.query(picturesTableStatement(quoteIdent(schema)));
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    } catch (error) {
      throw storeError('PostgreSQL', `connect to ${redacted}`, error);
    } finally {
      await client.end().catch(() => {});
    }
    // Every pooled connection resolves names in our schema, then where the vector type lives.
    const searchPath = [...new Set([schema, vectorSchema])].map(quoteIdent).join(',');
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      options: `-c search_path=${searchPath}`,
    });
    // An idle client whose server went away emits 'error'; without a listener it would crash the process.
    pool.on('error', () => {});
    return new PostgresStore(pool, redacted, schema, options.searchWidth);
  }

  async #withClient<T>(action: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw storeError('PostgreSQL', action, error);
    }
    try {
      return await fn(client);
    } catch (error) {
      throw storeError('PostgreSQL', action, error);
    } finally {
      client.release();
    }
  }

  /** Runs `fn` in a transaction, committed before the promise resolves. */
  #transaction<T>(action: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#withClient(action, async (client) => {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
  }

  /**
   * Reads a gallery's row; in a transaction, 'share' keeps it from being deleted until commit
   * (writers) and 'update' waits for those writers (deletion), so no write lands in a dropped table.
   */
  async #galleryRow(client: pg.PoolClient, name: string, lock?: 'share' | 'update'): Promise<GalleryRow | null> {
    const result = await client.query<GalleryRow>(
      `SELECT id, name, model, dim, metric, created_at FROM twinshot_galleries WHERE name = $1${lock ? ` FOR ${lock.toUpperCase()}` : ''}`,
      [name],
    );
    return result.rows[0] ?? null;
  }

  async #require(client: pg.PoolClient, name: string, lock?: 'share' | 'update'): Promise<GalleryTables> {
    const row = await this.#galleryRow(client, name, lock);
    if (!row) throw galleryNotFound(name);
    return new GalleryTables(row);
  }

  async #record(client: pg.PoolClient, row: GalleryRow): Promise<GalleryRecord> {
    const tables = new GalleryTables(row);
    const counts = await client.query<{ classes: number; examples: string }>(
      `SELECT count(*)::int AS classes, coalesce(sum(examples), 0)::bigint AS examples FROM ${tables.classes}`,
    );
    return {
      name: row.name,
      model: row.model,
      dim: row.dim,
      metric: row.metric,
      createdAt: row.created_at.toISOString(),
      classes: counts.rows[0]!.classes,
      examples: Number(counts.rows[0]!.examples),
    };
  }

  async createGallery(spec: GallerySpec): Promise<{ gallery: GalleryRecord; created: boolean }> {
    return this.#transaction('create a gallery', async (client) => {
      // Two processes creating one name at once: the second waits here, then sees the first's row.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SCHEMA_LOCK, spec.name]);
      const existing = await this.#galleryRow(client, spec.name);
      if (existing) {
        if (existing.model !== spec.model || existing.dim !== spec.dim || existing.metric !== spec.metric) {
          throw new TwinshotError(
            'ERR_CONFLICT',
            `gallery '${spec.name}' exists with model '${existing.model}' (${existing.dim}-d, ${existing.metric}); ` +
              `this server embeds with '${spec.model}' (${spec.dim}-d, ${spec.metric}); delete it or use another name`,
          );
        }
        return { gallery: await this.#record(client, existing), created: false };
      }
      const inserted = await client.query<GalleryRow>(
        'INSERT INTO twinshot_galleries (name, model, dim, metric) VALUES ($1, $2, $3, $4) RETURNING id, name, model, dim, metric, created_at',
        [spec.name, spec.model, spec.dim, spec.metric],
      );
      const row = inserted.rows[0]!;
      const tables = new GalleryTables(row);
      for (const statement of tables.createStatements()) await client.query(statement);
      await createHnswIndex(client, tables);
      return { gallery: await this.#record(client, row), created: true };
    });
  }

  async getGallery(name: string): Promise<GalleryRecord | null> {
    return this.#withClient('read a gallery', async (client) => {
      const row = await this.#galleryRow(client, name);
      return row ? this.#record(client, row) : null;
    });
  }

  async describeGallery(name: string): Promise<GallerySpec | null> {
    return this.#withClient('read a gallery', async (client) => {
      const row = await this.#galleryRow(client, name);
      return row ? { name: row.name, model: row.model, dim: row.dim, metric: row.metric } : null;
    });
  }

  async listGalleries(): Promise<GalleryRecord[]> {
    return this.#withClient('list galleries', async (client) => {
      const rows = await client.query<GalleryRow>(
        'SELECT id, name, model, dim, metric, created_at FROM twinshot_galleries ORDER BY name',
      );
      const records: GalleryRecord[] = [];
      for (const row of rows.rows) records.push(await this.#record(client, row));
      return records;
    });
  }

  async deleteGallery(name: string): Promise<boolean> {
    return this.#transaction('delete a gallery', async (client) => {
      const row = await this.#galleryRow(client, name, 'update');
      if (!row) return false;
      const tables = new GalleryTables(row);
      await client.query(`DROP TABLE IF EXISTS ${tables.examples}, ${tables.classes}`);
      await client.query('DELETE FROM twinshot_galleries WHERE id = $1', [row.id]);
      return true;
    });
  }

  async addExamples(gallery: string, examples: readonly NewExample[]): Promise<string[]> {
    return this.#transaction('add examples', async (client) => {
      const tables = await this.#require(client, gallery, 'share');
      const { dim } = tables.row;
      for (const { vector } of examples) {
        if (vector.length !== dim)
          throw new TwinshotError(
            'ERR_SHAPE',
            `vectors of gallery '${gallery}' have ${dim} values; got ${vector.length}`,
          );
      }
      const ids = await insertExamples(client, tables, examples);
      await this.#refreshClasses(
        client,
        tables,
        examples.map((e) => e.label),
      );
      return ids;
    });
  }

  async addBulk(gallery: string, batches: ExampleBatches, options: BulkLoadOptions = {}): Promise<number> {
    // One transaction: a killed client or a failed batch rolls everything back.
    return this.#transaction('load examples', async (client) => {
      const tables = await this.#require(client, gallery, 'share');
      const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${tables.examples}`);
      const existing = Number(count.rows[0]!.n);
      // Into a small gallery, the index is dropped and built once after the rows; into a large
      // one, each row goes through the maintained index (slower per row, but no full rebuild).
      const rebuild = tables.isIndexed && existing < BULK_LOAD_ROWS;
      if (rebuild) await dropHnswIndex(client, tables);
      const { written, labels } = await copyExamples(client, tables, batches, options.onProgress);
      await this.#refreshClasses(client, tables, [...labels]);
      if (rebuild) await createHnswIndex(client, tables, existing + written);
      return written;
    });
  }

  /**
   * Recomputes the means of the given labels from their rows, in one statement. Advisory locks
   * order concurrent writers of a label: the second recomputes after the first commits and, as
   * READ COMMITTED takes a new snapshot per statement, sees its rows; no update is lost.
   * A write of a few labels locks each (in sorted order, so writers cannot deadlock) under a
   * shared gallery lock; a write of many takes the gallery lock exclusively instead, because
   * every lock uses a slot of the server's lock table (64 per connection by default).
   */
  async #refreshClasses(client: pg.PoolClient, tables: GalleryTables, labels: readonly string[]): Promise<void> {
    if (labels.length === 0) return;
    const sorted = [...new Set(labels)].sort();
    if (sorted.length <= MAX_LABEL_LOCKS) {
      await client.query("SELECT pg_advisory_xact_lock_shared(hashtext($1 || ':gallery'), 0)", [tables.examples]);
      await client.query(
        'SELECT pg_advisory_xact_lock(hashtext($1), hashtext(l)) FROM unnest($2::text[]) AS l ORDER BY l',
        [tables.examples, sorted],
      );
    } else {
      await client.query("SELECT pg_advisory_xact_lock(hashtext($1 || ':gallery'), 0)", [tables.examples]);
    }
    await client.query(
      `INSERT INTO ${tables.classes} (label, examples, mean)
         SELECT label, count(*), avg(embedding) FROM ${tables.examples} WHERE label = ANY($1::text[]) GROUP BY label
       ON CONFLICT (label) DO UPDATE SET examples = EXCLUDED.examples, mean = EXCLUDED.mean`,
      [sorted],
    );
    // Labels left without rows (after a removal) leave the table of means too.
    await client.query(
      `DELETE FROM ${tables.classes} c WHERE c.label = ANY($1::text[])
         AND NOT EXISTS (SELECT 1 FROM ${tables.examples} e WHERE e.label = c.label)`,
      [sorted],
    );
  }

  async listClasses(gallery: string): Promise<ClassSummary[]> {
    return this.#withClient('list classes', async (client) => {
      const tables = await this.#require(client, gallery);
      const rows = await client.query<ClassSummary>(
        `SELECT label, examples FROM ${tables.classes} ORDER BY label COLLATE "C"`,
      );
      return rows.rows;
    });
  }

  async removeClass(gallery: string, label: string): Promise<number> {
    return this.#transaction('remove a class', async (client) => {
      const tables = await this.#require(client, gallery, 'share');
      await new PostgresPictures(tables.row.id, tables.examples).removeClass(client, label);
      const deleted = await client.query(`DELETE FROM ${tables.examples} WHERE label = $1`, [label]);
      await this.#refreshClasses(client, tables, [label]);
      return deleted.rowCount ?? 0;
    });
  }

  async search(gallery: string, queries: readonly Float32Array[], options: SearchOptions): Promise<Neighbour[][]> {
    return this.#withClient('search', async (client) => {
      const tables = await this.#require(client, gallery);
      const results: Neighbour[][] = [];
      for (const query of queries) {
        if (query.length !== tables.row.dim) {
          throw new TwinshotError(
            'ERR_SHAPE',
            `queries of gallery '${gallery}' need ${tables.row.dim} values; got ${query.length}`,
          );
        }
        const literal = vectorLiteral(query);
        results.push(
          options.by === 'mean'
            ? await searchMeans(client, tables, literal, options.k)
            : await searchExamples(client, tables, literal, options.k, this.#searchWidth),
        );
      }
      return results;
    });
  }

  async exportExamples(gallery: string): Promise<ExampleRecord[]> {
    return this.#withClient('export examples', async (client) => {
      const tables = await this.#require(client, gallery);
      const rows = await client.query<{ id: string; label: string; embedding: string; created_at: Date }>(
        `SELECT id, label, embedding::text AS embedding, created_at FROM ${tables.examples} ORDER BY id`,
      );
      return rows.rows.map((r) => ({
        id: String(r.id),
        label: r.label,
        vector: parseVector(r.embedding),
        createdAt: r.created_at.toISOString(),
      }));
    });
  }

  async #pictures(client: pg.PoolClient, gallery: string, lock?: 'share'): Promise<PostgresPictures> {
    const tables = await this.#require(client, gallery, lock);
    return new PostgresPictures(tables.row.id, tables.examples);
  }

  async putPictures(gallery: string, pictures: readonly { id: string; picture: ExamplePicture }[]): Promise<void> {
    await this.#transaction('keep pictures', async (client) =>
      (await this.#pictures(client, gallery, 'share')).put(client, pictures),
    );
  }

  async getPictures(gallery: string, ids: readonly string[]): Promise<Map<string, ExamplePicture>> {
    return this.#withClient('read pictures', async (client) =>
      (await this.#pictures(client, gallery)).get(client, ids),
    );
  }

  async classPictures(gallery: string): Promise<Map<string, string>> {
    return this.#withClient('read pictures', async (client) => (await this.#pictures(client, gallery)).byClass(client));
  }

  async listExamples(gallery: string, label: string): Promise<ExampleSummary[]> {
    return this.#withClient('list examples', async (client) =>
      (await this.#pictures(client, gallery)).list(client, label),
    );
  }

  async createKey(key: ApiKeyRecord): Promise<void> {
    await this.#withClient('create a key', (client) => postgresKeys.create(client, key));
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    return this.#withClient('list keys', (client) => postgresKeys.list(client));
  }

  async revokeKey(id: string): Promise<boolean> {
    return this.#withClient('revoke a key', (client) => postgresKeys.revoke(client, id));
  }

  async findKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    return this.#withClient('look up a key', (client) => postgresKeys.findByHash(client, hash));
  }

  async hasActiveKeys(): Promise<boolean> {
    return this.#withClient('look up keys', (client) => postgresKeys.hasActive(client));
  }

  async ping(): Promise<void> {
    await this.#withClient('answer', (client) => client.query('SELECT 1'));
  }

  /** Drops twinshot's schema (tests); refuses the default 'public'. */
  async dropSchema(): Promise<void> {
    if (this.#schema === 'public')
      throw new TwinshotError('ERR_ARGUMENT', 'dropSchema: refusing to drop the public schema');
    await this.#withClient('drop its schema', (client) =>
      client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(this.#schema)} CASCADE`),
    );
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}
