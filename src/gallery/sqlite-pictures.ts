// The pictures the SQLite store keeps with its examples: one table beside `examples`, created in
// place when an older database is opened (the change is additive, so the schema version stays).
import type Database from 'better-sqlite3';
import type { ExamplePicture, ExampleSummary } from './types.js';

/** Removing an example (a class, a gallery) removes its picture through the foreign key. */
export const PICTURES_SCHEMA = `
CREATE TABLE IF NOT EXISTS example_pictures (
  example_id INTEGER PRIMARY KEY REFERENCES examples(id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  bytes BLOB NOT NULL
);
`;

/** Example ids are SQLite rowids: anything else names no example. */
const ROW_ID = /^[1-9][0-9]{0,18}$/;

export class SqlitePictures {
  readonly #db: Database.Database;
  readonly #statements;

  /** `db` must already hold PICTURES_SCHEMA. */
  constructor(db: Database.Database) {
    this.#db = db;
    this.#statements = {
      // Only an example of this gallery gets a picture: the SELECT finds nothing otherwise.
      put: db.prepare<[string, Buffer, string, number]>(
        `INSERT INTO example_pictures (example_id, type, bytes)
           SELECT id, ?, ? FROM examples WHERE id = ? AND gallery_id = ?
         ON CONFLICT (example_id) DO UPDATE SET type = excluded.type, bytes = excluded.bytes`,
      ),
      get: db.prepare<[number, string], { type: string; bytes: Buffer }>(
        `SELECT p.type, p.bytes FROM example_pictures p JOIN examples e ON e.id = p.example_id
          WHERE e.gallery_id = ? AND p.example_id = ?`,
      ),
      byClass: db.prepare<[number], { label: string; id: number }>(
        `SELECT e.label, min(e.id) AS id FROM examples e JOIN example_pictures p ON p.example_id = e.id
          WHERE e.gallery_id = ? GROUP BY e.label`,
      ),
      list: db.prepare<[number, string], { id: number; created_at: string; has_picture: number }>(
        `SELECT e.id, e.created_at, p.example_id IS NOT NULL AS has_picture
           FROM examples e LEFT JOIN example_pictures p ON p.example_id = e.id
          WHERE e.gallery_id = ? AND e.label = ? ORDER BY e.id`,
      ),
    };
  }

  put(galleryId: number, pictures: readonly { id: string; picture: ExamplePicture }[]): void {
    this.#db
      .transaction(() => {
        for (const { id, picture } of pictures) {
          if (!ROW_ID.test(id)) continue;
          const bytes = Buffer.from(picture.bytes.buffer, picture.bytes.byteOffset, picture.bytes.byteLength);
          this.#statements.put.run(picture.type, bytes, id, galleryId);
        }
      })
      .immediate();
  }

  get(galleryId: number, ids: readonly string[]): Map<string, ExamplePicture> {
    const found = new Map<string, ExamplePicture>();
    for (const id of ids) {
      if (!ROW_ID.test(id)) continue;
      const row = this.#statements.get.get(galleryId, id);
      if (row) found.set(id, { type: row.type, bytes: new Uint8Array(row.bytes) });
    }
    return found;
  }

  byClass(galleryId: number): Map<string, string> {
    return new Map(this.#statements.byClass.all(galleryId).map((row) => [row.label, String(row.id)]));
  }

  list(galleryId: number, label: string): ExampleSummary[] {
    return this.#statements.list.all(galleryId, label).map((row) => ({
      id: String(row.id),
      createdAt: row.created_at,
      hasPicture: row.has_picture === 1,
    }));
  }
}
