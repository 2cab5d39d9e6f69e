// The PostgreSQL store's HNSW index: building it, and searching through it (widening
// hnsw.ef_search until k distinct labels are found) or exactly (class means, wide vectors).
import type pg from 'pg';
import type { GalleryTables } from './postgres-tables.js';
import { POSTGRES_SEARCH_WIDTH, hnswSearchWidth } from './search-width.js';
import type { Neighbour } from './types.js';

/** HNSW returns at most hnsw.ef_search rows per scan; pgvector caps the setting at 1,000. */
const MAX_EF_SEARCH = 1000;
/**
 * pgvector builds far faster when the graph fits in maintenance_work_mem: about the vectors plus
 * 400 bytes of links per row (M 16). Bounded to 512 MB-4 GB; 1,000,000 256-d rows ask for 1.7 GB.
 */
function buildMemoryMb(rows: number, dim: number): number {
  const mb = Math.ceil((rows * (dim * 4 + 400) * 1.2) / 2 ** 20);
  return Math.min(4096, Math.max(512, mb));
}

/**
 * Builds the gallery's HNSW index (at creation, and once after a bulk load), in the caller's
 * transaction, with memory for `rows` rows.
 */
export async function createHnswIndex(client: pg.ClientBase, tables: GalleryTables, rows = 0): Promise<void> {
  if (!tables.isIndexed) return;
  await client.query(`SET LOCAL maintenance_work_mem = '${buildMemoryMb(rows, tables.row.dim)}MB'`);
  await client.query(
    `CREATE INDEX ${tables.hnswIndex} ON ${tables.examples} USING hnsw (${tables.column} ${tables.opclass})`,
  );
}

/** Drops the index before a bulk load; the exclusive lock holds searches of the gallery until commit. */
export async function dropHnswIndex(client: pg.ClientBase, tables: GalleryTables): Promise<void> {
  await client.query(`DROP INDEX IF EXISTS ${tables.hnswIndex}`);
}

/**
 * Labels ranked by class mean: an exact scan of the means. Parallel workers cost more to start
 * than the scan takes, up to hundreds of thousands of classes, so they are switched off for it.
 */
export async function searchMeans(
  client: pg.ClientBase,
  tables: GalleryTables,
  literal: string,
  k: number,
): Promise<Neighbour[]> {
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
 * The planner's row estimate of a gallery's examples (kept by ANALYZE, autovacuum and index
 * builds; -1 before any): a catalog read, not a count.
 */
async function estimatedRows(client: pg.ClientBase, tables: GalleryTables): Promise<number> {
  const result = await client.query<{ rows: number }>(
    'SELECT reltuples::float8 AS rows FROM pg_class WHERE oid = $1::regclass',
    [tables.examples],
  );
  return result.rows[0]?.rows ?? -1;
}

/**
 * Nearest examples through the HNSW index, grouped by label. The index returns at most
 * hnsw.ef_search rows, so the candidate count starts at a width that grows with the table
 * (search-width.ts), or at `chosenWidth`, and grows fourfold until k labels are found;
 * past 1,000 candidates an exact grouped scan answers instead.
 */
export async function searchExamples(
  client: pg.ClientBase,
  tables: GalleryTables,
  literal: string,
  k: number,
  chosenWidth?: number,
): Promise<Neighbour[]> {
  const { op, column, cast } = tables;
  await client.query('BEGIN');
  try {
    // A chosen width needs no size: the catalog is read only for the growing one.
    const rows = tables.isIndexed && chosenWidth === undefined ? await estimatedRows(client, tables) : 0;
    let candidates = tables.isIndexed ? hnswSearchWidth(k, rows, POSTGRES_SEARCH_WIDTH, chosenWidth) : Infinity;
    while (candidates <= MAX_EF_SEARCH) {
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
