// API keys in PostgreSQL (table twinshot_api_keys): only SHA-256 hashes of tokens are stored.
import type pg from 'pg';
import type { ApiKeyRecord, KeyScope } from './types.js';

interface KeyRow {
  id: string;
  hash: string;
  gallery: string;
  scopes: string;
  name: string | null;
  created_at: Date;
  revoked_at: Date | null;
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

/** The key queries, run on whatever connection the store hands them. */
export const postgresKeys = {
  async create(client: pg.ClientBase, key: ApiKeyRecord): Promise<void> {
    await client.query(
      'INSERT INTO twinshot_api_keys (id, hash, gallery, scopes, name, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [key.id, key.hash, key.gallery, key.scopes.join(','), key.name, key.createdAt, key.revokedAt],
    );
  },

  async list(client: pg.ClientBase): Promise<ApiKeyRecord[]> {
    const rows = await client.query<KeyRow>('SELECT * FROM twinshot_api_keys ORDER BY created_at, id');
    return rows.rows.map(keyFromRow);
  },

  async revoke(client: pg.ClientBase, id: string): Promise<boolean> {
    const result = await client.query(
      'UPDATE twinshot_api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
      [id],
    );
    return (result.rowCount ?? 0) > 0;
  },

  async findByHash(client: pg.ClientBase, hash: string): Promise<ApiKeyRecord | null> {
    const rows = await client.query<KeyRow>('SELECT * FROM twinshot_api_keys WHERE hash = $1 AND revoked_at IS NULL', [
      hash,
    ]);
    return rows.rows[0] ? keyFromRow(rows.rows[0]) : null;
  },

  async hasActive(client: pg.ClientBase): Promise<boolean> {
    const rows = await client.query('SELECT 1 FROM twinshot_api_keys WHERE revoked_at IS NULL LIMIT 1');
    return (rows.rowCount ?? 0) > 0;
  },
};
