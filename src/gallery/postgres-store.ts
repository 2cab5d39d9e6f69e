// PostgresStore: galleries in PostgreSQL with pgvector, one table per gallery with an HNSW index,
// for several server processes and machines sharing one database.
import pg from 'pg';
import { TwinshotError } from '../errors.js';
import { galleryNotFound, storeError } from './store-errors.js';
import type { SearchMetric } from '../models/embedder.js';
import type {
  ApiKeyRecord,
  ClassSummary,
  ExampleRecord,
  GalleryRecord,
  GallerySpec,
  GalleryStore,
  KeyScope,
  Neighbour,
  NewExample,
  SearchOptions,
} from './types.js';

export interface PostgresStoreOptions {
  /** Schema holding twinshot's tables (default 'public'); tests give each run its own. */
  schema?: string;
  /** Largest number of pooled connections (default 10). */
  maxConnections?: number;
}

interface GalleryRow {
  id: string;
  name: string;
  model: string;
  dim: number;
  metric: SearchMetric;
  created_at: Date;
}

interface KeyRow {
  id: string;
  hash: string;
  gallery: string;
  scopes: string;
  name: string | null;
  created_at: Date;
  revoked_at: Date | null;
}

/** pgvector's distance operator and HNSW operator class for each metric. */
const OPERATORS: Record<SearchMetric, { op: string; opclass: string }> = {
  l2: { op: '<->', opclass: 'l2_ops' },
  cosine: { op: '<=>', opclass: 'cosine_ops' },
  l1: { op: '<+>', opclass: 'l1_ops' },
};

/** pgvector indexes `vector` up to 2,000 dimensions and `halfvec` up to 4,000. */
const MAX_VECTOR_INDEX_DIM = 2000;
const MAX_HALFVEC_INDEX_DIM = 4000;
/** HNSW returns at most hnsw.ef_search rows per scan; pgvector caps the setting at 1,000. */
const MAX_EF_SEARCH = 1000;
const SCHEMA_LOCK = 0x7477_696e; // 'twin': serialises schema creation between processes
/** Batches at least this large, into a gallery no larger than the batch, rebuild the index once. */
const BULK_LOAD_ROWS = 5000;
const BULK_BUILD_MEMORY = '512MB';
/** Writes of more labels than this lock the whole gallery's class means instead of each label. */
const MAX_LABEL_LOCKS = 32;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function vectorLiteral(vector: Float32Array): string {
  for (const x of vector) {
    if (!Number.isFinite(x)) throw new TwinshotError('ERR_ARGUMENT', 'vectors must not hold NaN or infinite values');
  }
  return `[${Array.prototype.join.call(vector, ',')}]`;
}

function parseVector(text: string): Float32Array {
  return Float32Array.from(text.slice(1, -1).split(','), Number);
}

function keyFromRow(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    hash: row.hash,
    gallery: row.gallery,
    scopes: row.scopes.split(',').filter(Boolean) as KeyScope[],
    name: row.name,
    createdAt: row.created_at.toISOString(),
    revokedAt: row.revoked_at ? row.revoked_at.toISOString() : null,
  };
}

/** Table names and SQL fragments for one gallery; names come from its numeric id, never from user text. */
class GalleryTables {
  readonly examples: string;
  readonly classes: string;
  /** The indexed expression, and the cast a query vector needs to use the index. */
  readonly column: string;
  readonly cast: string;
  readonly op: string;
  readonly isIndexed: boolean;

  constructor(readonly row: GalleryRow) {
    this.examples = quoteIdent(`twinshot_examples_${row.id}`);
    this.classes = quoteIdent(`twinshot_classes_${row.id}`);
    this.op = OPERATORS[row.metric].op;
    if (row.dim <= MAX_VECTOR_INDEX_DIM) {
      this.column = 'embedding';
      this.cast = `::vector(${row.dim})`;
    } else {
      // Wider vectors are indexed at half precision (pgvector's documented route), up to 4,000.
      this.column = `(embedding::halfvec(${row.dim}))`;
      this.cast = `::halfvec(${row.dim})`;
    }
    this.isIndexed = row.dim <= MAX_HALFVEC_INDEX_DIM;
  }

  /** The HNSW index's name (derived from the gallery id, like the tables). */
  get hnswIndex(): string {
    return quoteIdent(`twinshot_examples_${this.row.id}_hnsw`);
  }

  /** Builds the HNSW index (at creation, and after a bulk load). */
  createIndexStatement(): string {
    const opclass =
      (this.row.dim <= MAX_VECTOR_INDEX_DIM ? 'vector_' : 'halfvec_') + OPERATORS[this.row.metric].opclass;
    return `CREATE INDEX ${this.hnswIndex} ON ${this.examples} USING hnsw (${this.column} ${opclass})`;
  }

  createStatements(): string[] {
    const { dim } = this.row;
    const statements = [
      `CREATE TABLE ${this.examples} (id bigserial PRIMARY KEY, label text NOT NULL, embedding vector(${dim}) NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
      `CREATE INDEX ON ${this.examples} (label)`,
      `CREATE TABLE ${this.classes} (label text PRIMARY KEY, examples integer NOT NULL, mean vector(${dim}) NOT NULL)`,
    ];
    if (this.isIndexed) statements.push(this.createIndexStatement());
    return statements;
  }
}

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

  private constructor(pool: pg.Pool, location: string, schema: string) {
    this.#pool = pool;
    this.location = location;
    this.#schema = schema;
  }

  /**
   * Connects, installs the vector extension when allowed, and creates twinshot's tables.
   * @throws TwinshotError ERR_STORE when the database is unreachable or pgvector is missing
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const schema = options.schema ?? 'public';
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
        const s = quoteIdent(schema);
        await client.query(`CREATE TABLE IF NOT EXISTS ${s}.twinshot_galleries (
          id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, model text NOT NULL, dim integer NOT NULL,
          metric text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${s}.twinshot_api_keys (
          id text PRIMARY KEY, hash text NOT NULL UNIQUE, gallery text NOT NULL, scopes text NOT NULL,
          name text, created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz)`);
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
    return new PostgresStore(pool, redacted, schema);
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
      for (const statement of new GalleryTables(row).createStatements()) await client.query(statement);
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
      // Adding at least BULK_LOAD_ROWS rows to a gallery no larger than the batch: building the
      // HNSW index once afterwards is several times faster than updating it row by row. The
      // drop takes an exclusive lock, so searches of this gallery wait until the commit.
      let rebuild = false;
      if (tables.isIndexed && examples.length >= BULK_LOAD_ROWS) {
        const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${tables.examples}`);
        if (Number(count.rows[0]!.n) <= examples.length) {
          await client.query(`DROP INDEX IF EXISTS ${tables.hnswIndex}`);
          rebuild = true;
        }
      }
      const ids: string[] = [];
      // Multi-row inserts of up to 500 rows: one round trip each, far below the parameter limit.
      for (let start = 0; start < examples.length; start += 500) {
        const batch = examples.slice(start, start + 500);
        const values = batch.map((_, i) => `($${2 * i + 1}, $${2 * i + 2}::vector)`).join(', ');
        const params = batch.flatMap(({ label, vector }) => [label, vectorLiteral(vector)]);
        const inserted = await client.query<{ id: string }>(
          `INSERT INTO ${tables.examples} (label, embedding) VALUES ${values} RETURNING id`,
          params,
        );
        ids.push(...inserted.rows.map((r) => String(r.id)));
      }
      await this.#refreshClasses(
        client,
        tables,
        examples.map((e) => e.label),
      );
      if (rebuild) {
        // pgvector builds far faster when the graph fits in maintenance_work_mem.
        await client.query(`SET LOCAL maintenance_work_mem = '${BULK_BUILD_MEMORY}'`);
        await client.query(tables.createIndexStatement());
      }
      return ids;
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
            ? await this.#searchMeans(client, tables, literal, options.k)
            : await this.#searchExamples(client, tables, literal, options.k),
        );
      }
      return results;
    });
  }

  async #searchMeans(client: pg.PoolClient, tables: GalleryTables, literal: string, k: number): Promise<Neighbour[]> {
    // An exact scan of the means. Parallel workers cost more to start than the scan takes, up to
    // hundreds of thousands of classes, so they are switched off for it.
    await client.query('BEGIN');
    try {
      await client.query('SET LOCAL max_parallel_workers_per_gather = 0');
      const rows = await client.query<{ label: string; distance: number }>(
        `SELECT label, mean ${tables.op} $1::vector AS distance FROM ${tables.classes} ORDER BY distance LIMIT $2`,
        [literal, k],
      );
      return rows.rows;
    } finally {
      await client.query('COMMIT');
    }
  }

  /**
   * Nearest examples through the HNSW index, grouped by label. The index returns at most
   * hnsw.ef_search rows, so the candidate count grows (4k, 16k, ...) until k labels are found;
   * past 1,000 candidates an exact grouped scan answers instead.
   */
  async #searchExamples(
    client: pg.PoolClient,
    tables: GalleryTables,
    literal: string,
    k: number,
  ): Promise<Neighbour[]> {
    const { op, column, cast } = tables;
    let candidates = Math.max(4 * k, 40);
    await client.query('BEGIN');
    try {
      while (tables.isIndexed && candidates <= MAX_EF_SEARCH) {
        await client.query(`SET LOCAL hnsw.ef_search = ${candidates}`);
        const rows = await client.query<{ label: string; distance: number; n: number }>(
          `SELECT label, min(distance) AS distance, sum(count(*)) OVER ()::int AS n FROM (
             SELECT label, ${column} ${op} $1${cast} AS distance FROM ${tables.examples}
             ORDER BY ${column} ${op} $1${cast} LIMIT $2) nearest
           GROUP BY label ORDER BY distance LIMIT $3`,
          [literal, candidates, k],
        );
        const seen = rows.rows[0]?.n ?? 0;
        // Enough labels, or the scan returned fewer rows than asked: the table holds no more.
        if (rows.rows.length >= k || seen < candidates)
          return rows.rows.map(({ label, distance }) => ({ label, distance }));
        if (candidates === MAX_EF_SEARCH) break;
        candidates = Math.min(candidates * 4, MAX_EF_SEARCH);
      }
      const exact = await client.query<{ label: string; distance: number }>(
        `SELECT label, min(embedding ${op} $1::vector) AS distance FROM ${tables.examples} GROUP BY label ORDER BY distance LIMIT $2`,
        [literal, k],
      );
      return exact.rows;
    } finally {
      await client.query('COMMIT');
    }
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

  async createKey(key: ApiKeyRecord): Promise<void> {
    await this.#withClient('create a key', (client) =>
      client.query(
        'INSERT INTO twinshot_api_keys (id, hash, gallery, scopes, name, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [key.id, key.hash, key.gallery, key.scopes.join(','), key.name, key.createdAt, key.revokedAt],
      ),
    );
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    return this.#withClient('list keys', async (client) => {
      const rows = await client.query<KeyRow>('SELECT * FROM twinshot_api_keys ORDER BY created_at, id');
      return rows.rows.map(keyFromRow);
    });
  }

  async revokeKey(id: string): Promise<boolean> {
    return this.#withClient('revoke a key', async (client) => {
      const result = await client.query(
        'UPDATE twinshot_api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
        [id],
      );
      return (result.rowCount ?? 0) > 0;
    });
  }

  async findKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    return this.#withClient('look up a key', async (client) => {
      const rows = await client.query<KeyRow>(
        'SELECT * FROM twinshot_api_keys WHERE hash = $1 AND revoked_at IS NULL',
        [hash],
      );
      return rows.rows[0] ? keyFromRow(rows.rows[0]) : null;
    });
  }

  async hasActiveKeys(): Promise<boolean> {
    return this.#withClient('look up keys', async (client) => {
      const rows = await client.query('SELECT 1 FROM twinshot_api_keys WHERE revoked_at IS NULL LIMIT 1');
      return (rows.rowCount ?? 0) > 0;
    });
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
