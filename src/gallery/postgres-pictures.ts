// The pictures the PostgreSQL store keeps with its examples: one table for every gallery, keyed by
// gallery and example id, created in place when an older database is opened.
import type pg from 'pg';
import type { ExamplePicture, ExampleSummary } from './types.js';

/** Deleting a gallery deletes its pictures (foreign key); removing a class deletes them explicitly. */
export function picturesTableStatement(schema: string): string {
  return `CREATE TABLE IF NOT EXISTS ${schema}.twinshot_pictures (
    gallery_id bigint NOT NULL REFERENCES ${schema}.twinshot_galleries(id) ON DELETE CASCADE,
    example_id bigint NOT NULL, type text NOT NULL, bytes bytea NOT NULL,
    PRIMARY KEY (gallery_id, example_id))`;
}

/** Example ids are bigserial values: anything else names no example. */
const ROW_ID = /^[1-9][0-9]{0,18}$/;

/** Picture queries of one gallery; `examples` is its (quoted) examples table. */
export class PostgresPictures {
  constructor(
    readonly galleryId: string,
    readonly examples: string,
  ) {}

  async put(client: pg.PoolClient, pictures: readonly { id: string; picture: ExamplePicture }[]): Promise<void> {
    for (const { id, picture } of pictures) {
      if (!ROW_ID.test(id)) continue;
      // Only an example of this gallery gets a picture: the SELECT finds nothing otherwise.
      await client.query(
        `INSERT INTO twinshot_pictures (gallery_id, example_id, type, bytes)
           SELECT $1, id, $3, $4 FROM ${this.examples} WHERE id = $2
         ON CONFLICT (gallery_id, example_id) DO UPDATE SET type = EXCLUDED.type, bytes = EXCLUDED.bytes`,
        [this.galleryId, id, picture.type, Buffer.from(picture.bytes)],
      );
    }
  }

  async get(client: pg.PoolClient, ids: readonly string[]): Promise<Map<string, ExamplePicture>> {
    const wanted = ids.filter((id) => ROW_ID.test(id));
    if (wanted.length === 0) return new Map();
    const rows = await client.query<{ id: string; type: string; bytes: Buffer }>(
      `SELECT p.example_id::text AS id, p.type, p.bytes FROM twinshot_pictures p
         JOIN ${this.examples} e ON e.id = p.example_id
        WHERE p.gallery_id = $1 AND p.example_id = ANY($2::bigint[])`,
      [this.galleryId, wanted],
    );
    return new Map(rows.rows.map((r) => [r.id, { type: r.type, bytes: new Uint8Array(r.bytes) }]));
  }

  async byClass(client: pg.PoolClient): Promise<Map<string, string>> {
    const rows = await client.query<{ label: string; id: string }>(
      `SELECT e.label, min(e.id)::text AS id FROM ${this.examples} e
         JOIN twinshot_pictures p ON p.gallery_id = $1 AND p.example_id = e.id
        GROUP BY e.label`,
      [this.galleryId],
    );
    return new Map(rows.rows.map((r) => [r.label, r.id]));
  }

  async list(client: pg.PoolClient, label: string): Promise<ExampleSummary[]> {
    const rows = await client.query<{ id: string; created_at: Date; has_picture: boolean }>(
      `SELECT e.id::text AS id, e.created_at, p.example_id IS NOT NULL AS has_picture
         FROM ${this.examples} e LEFT JOIN twinshot_pictures p ON p.gallery_id = $1 AND p.example_id = e.id
        WHERE e.label = $2 ORDER BY e.id`,
      [this.galleryId, label],
    );
    return rows.rows.map((r) => ({ id: r.id, createdAt: r.created_at.toISOString(), hasPicture: r.has_picture }));
  }

  /** Deletes the pictures of a label's examples (before the examples themselves). */
  async removeClass(client: pg.PoolClient, label: string): Promise<void> {
    await client.query(
      `DELETE FROM twinshot_pictures p USING ${this.examples} e
        WHERE p.gallery_id = $1 AND p.example_id = e.id AND e.label = $2`,
      [this.galleryId, label],
    );
  }
}
