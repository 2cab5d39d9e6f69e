// Writing rows into a PostgreSQL gallery: batched inserts, and for large loads into a small
// gallery, the HNSW index dropped first and built once after the rows.
import type pg from 'pg';
import { createHnswIndex, dropHnswIndex } from './postgres-index.js';
import { vectorLiteral, type GalleryTables } from './postgres-tables.js';
import type { NewExample } from './types.js';

/** Batches at least this large, into a gallery no larger than the batch, rebuild the index once. */
const BULK_LOAD_ROWS = 5000;
/** Rows per multi-row INSERT: one round trip each, far below the parameter limit. */
const INSERT_ROWS = 500;

/**
 * Inserts `examples` in the caller's transaction and returns their ids in order. Adding at least
 * BULK_LOAD_ROWS rows to a gallery no larger than the batch, building the HNSW index once
 * afterwards is several times faster than updating it row by row.
 */
export async function insertExamples(
  client: pg.ClientBase,
  tables: GalleryTables,
  examples: readonly NewExample[],
): Promise<string[]> {
  let rebuild = false;
  if (tables.isIndexed && examples.length >= BULK_LOAD_ROWS) {
    const count = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${tables.examples}`);
    if (Number(count.rows[0]!.n) <= examples.length) {
      await dropHnswIndex(client, tables);
      rebuild = true;
    }
  }
  const ids: string[] = [];
  for (let start = 0; start < examples.length; start += INSERT_ROWS) {
    const batch = examples.slice(start, start + INSERT_ROWS);
    const values = batch.map((_, i) => `($${2 * i + 1}, $${2 * i + 2}::vector)`).join(', ');
    const params = batch.flatMap(({ label, vector }) => [label, vectorLiteral(vector)]);
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO ${tables.examples} (label, embedding) VALUES ${values} RETURNING id`,
      params,
    );
    ids.push(...inserted.rows.map((r) => String(r.id)));
  }
  if (rebuild) await createHnswIndex(client, tables);
  return ids;
}
