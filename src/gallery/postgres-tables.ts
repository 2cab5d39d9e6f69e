// The PostgreSQL store's tables: per-gallery table names and DDL, the vector literal format, and
// the shared tables created when a store opens. Table names come from numeric ids, never user text.
import type pg from 'pg';
import { TwinshotError } from '../errors.js';
import type { SearchMetric } from '../models/embedder.js';

export interface GalleryRow {
  id: string;
  name: string;
  model: string;
  dim: number;
  metric: SearchMetric;
  created_at: Date;
}

/** pgvector's distance operator and HNSW operator class for each metric. */
export const OPERATORS: Record<SearchMetric, { op: string; opclass: string }> = {
  l2: { op: '<->', opclass: 'l2_ops' },
  cosine: { op: '<=>', opclass: 'cosine_ops' },
  l1: { op: '<+>', opclass: 'l1_ops' },
};

/** pgvector indexes `vector` up to 2,000 dimensions and `halfvec` up to 4,000. */
const MAX_VECTOR_INDEX_DIM = 2000;
const MAX_HALFVEC_INDEX_DIM = 4000;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** pgvector's text form `[x,y,...]`. @throws ERR_ARGUMENT for NaN or infinite values, which pgvector refuses */
export function vectorLiteral(vector: Float32Array): string {
  for (const x of vector) {
    if (!Number.isFinite(x)) throw new TwinshotError('ERR_ARGUMENT', 'vectors must not hold NaN or infinite values');
  }
  return `[${Array.prototype.join.call(vector, ',')}]`;
}

export function parseVector(text: string): Float32Array {
  return Float32Array.from(text.slice(1, -1).split(','), Number);
}

/** Table names and SQL fragments for one gallery. */
export class GalleryTables {
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

  /** The HNSW operator class for this gallery's metric and width. */
  get opclass(): string {
    return (this.row.dim <= MAX_VECTOR_INDEX_DIM ? 'vector_' : 'halfvec_') + OPERATORS[this.row.metric].opclass;
  }

  /** The tables of a new gallery; its HNSW index is created by postgres-index.ts. */
  createStatements(): string[] {
    const { dim } = this.row;
    return [
      `CREATE TABLE ${this.examples} (id bigserial PRIMARY KEY, label text NOT NULL, embedding vector(${dim}) NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`,
      `CREATE INDEX ON ${this.examples} (label)`,
      `CREATE TABLE ${this.classes} (label text PRIMARY KEY, examples integer NOT NULL, mean vector(${dim}) NOT NULL)`,
    ];
  }
}

/** Creates the tables every store shares (galleries and keys) in `schema`, if missing. */
export async function createSharedTables(client: pg.ClientBase, schema: string): Promise<void> {
  const s = quoteIdent(schema);
  await client.query(`CREATE TABLE IF NOT EXISTS ${s}.twinshot_galleries (
    id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, model text NOT NULL, dim integer NOT NULL,
    metric text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${s}.twinshot_api_keys (
    id text PRIMARY KEY, hash text NOT NULL UNIQUE, gallery text NOT NULL, scopes text NOT NULL,
    name text, created_at timestamptz NOT NULL DEFAULT now(), revoked_at timestamptz)`);
}
