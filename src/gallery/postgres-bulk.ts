// Writing rows into a PostgreSQL gallery: batched inserts, COPY for bulk loads, and for large
// loads into a small gallery, the HNSW index dropped first and built once after the rows.
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { TwinshotError } from '../errors.js';
import { createHnswIndex, dropHnswIndex } from './postgres-index.js';
import { vectorLiteral, type GalleryTables } from './postgres-tables.js';
import type { ExampleBatches, NewExample } from './types.js';

/** Batches at least this large, into a gallery no larger than the batch, rebuild the index once. */
export const BULK_LOAD_ROWS = 5000;
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
  if (rebuild) await createHnswIndex(client, tables, examples.length);
  return ids;
}

/** COPY's text format: backslash, tab and line breaks in a label are escaped. */
function copyText(label: string): string {
  return label.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!);
}

/**
 * Streams every batch into the gallery's table with one COPY, in the caller's transaction, and
 * returns the number of rows and the labels seen. COPY skips per-row statement overhead, so a
 * million 256-d rows take about a minute rather than many.
 */
export async function copyExamples(
  client: pg.ClientBase,
  tables: GalleryTables,
  batches: ExampleBatches,
  onProgress?: (written: number) => void,
): Promise<{ written: number; labels: Set<string> }> {
  const { dim } = tables.row;
  const stream = client.query(copyFrom(`COPY ${tables.examples} (label, embedding) FROM STDIN`));
  const done = finished(stream);
  // An error surfaces on `done`; until then writes may fail silently, so check it between batches.
  let failure: unknown = null;
  done.catch((error: unknown) => {
    failure = error;
  });
  const labels = new Set<string>();
  let written = 0;
  try {
    for await (const batch of batches) {
      if (failure) throw failure;
      let text = '';
      for (const { label, vector } of batch) {
        if (vector.length !== dim) {
          throw new TwinshotError(
            'ERR_SHAPE',
            `vectors of gallery '${tables.row.name}' have ${dim} values; got ${vector.length} (example ${written + 1})`,
          );
        }
        text += `${copyText(label)}\t${vectorLiteral(vector)}\n`;
        labels.add(label);
        written++;
      }
      if (!stream.write(text)) await once(stream, 'drain');
      onProgress?.(written);
    }
    stream.end();
    await done;
  } catch (error) {
    // Abandon the COPY; the caller's transaction rolls back.
    stream.destroy(error instanceof Error ? error : new Error(String(error)));
    await done.catch(() => {});
    // Our own error (a bad vector, a failing source) is the cause; PostgreSQL's reply to the abort is not.
    throw error;
  }
  return { written, labels };
}
