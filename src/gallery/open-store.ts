// openStore: picks the gallery store from a URL (sqlite:PATH or postgres://...), the one place
// where store URLs are parsed.
import { TwinshotError } from '../errors.js';
import { PostgresStore, redactUrl } from './postgres-store.js';
import { SqliteStore, type SqliteSynchronous } from './sqlite-store.js';
import { checkSearchWidth } from './search-width.js';
import type { GalleryStore } from './types.js';

/** Where galleries live when no --store is given: an SQLite file under the working folder. */
export const DEFAULT_STORE_URL = 'sqlite:./twinshot-data/gallery.db';

/**
 * Opens the store a URL names:
 * - `sqlite:PATH` (relative to the working folder; `sqlite::memory:` for a throwaway store),
 *   with `?synchronous=normal` to trade power-cut durability for one fsync less per write,
 *   `?search=exact` to search every gallery exactly (no HNSW index), and `?exact_below=N` to move
 *   the size from which a gallery is searched through its HNSW index (default 10,000);
 * - `postgres://USER:PASSWORD@HOST:PORT/DB` (or `postgresql://`), with `?schema=NAME` to keep
 *   twinshot's tables in their own schema;
 * - for both, `?search_width=N` (1 to 1,000) for the candidates an HNSW search starts with, in
 *   place of the default that grows with the gallery: more for recall, fewer for speed.
 *
 * @example
 * const store = await openStore('sqlite:./twinshot-data/gallery.db');
 * @throws TwinshotError ERR_CONFIG for an unknown scheme; ERR_STORE when the store cannot be opened
 */
export async function openStore(url: string = DEFAULT_STORE_URL): Promise<GalleryStore> {
  if (url.startsWith('sqlite:')) {
    const [file, query = ''] = url.slice('sqlite:'.length).split('?', 2) as [string, string?];
    const params = new URLSearchParams(query);
    if (!file) throw new TwinshotError('ERR_CONFIG', `store URL ${url} has no file path; write sqlite:PATH`);
    const synchronous = params.get('synchronous') ?? 'full';
    if (synchronous !== 'full' && synchronous !== 'normal') {
      throw new TwinshotError(
        'ERR_CONFIG',
        `store URL ${url}: synchronous must be 'full' or 'normal'; got '${synchronous}'`,
      );
    }
    const search = params.get('search') ?? 'auto';
    if (search !== 'auto' && search !== 'exact') {
      throw new TwinshotError('ERR_CONFIG', `store URL ${url}: search must be 'auto' or 'exact'; got '${search}'`);
    }
    const searchWidth = searchWidthParam(params, url);
    const exactBelow = params.get('exact_below');
    if (exactBelow !== null && !/^\d+$/.test(exactBelow)) {
      throw new TwinshotError(
        'ERR_CONFIG',
        `store URL ${url}: exact_below must be a whole number; got '${exactBelow}'`,
      );
    }
    return SqliteStore.open(file, {
      synchronous: synchronous as SqliteSynchronous,
      search,
      ...(exactBelow === null ? {} : { exactBelow: Number(exactBelow) }),
      ...(searchWidth === undefined ? {} : { searchWidth }),
    });
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const parsed = new URL(url);
    const schema = parsed.searchParams.get('schema') ?? undefined;
    const searchWidth = searchWidthParam(parsed.searchParams, redactUrl(url));
    parsed.searchParams.delete('schema');
    parsed.searchParams.delete('search_width');
    return PostgresStore.open(parsed.toString(), {
      ...(schema === undefined ? {} : { schema }),
      ...(searchWidth === undefined ? {} : { searchWidth }),
    });
  }
  throw new TwinshotError(
    'ERR_CONFIG',
    `unknown store URL ${redactUrl(url)}; use sqlite:PATH (e.g. ${DEFAULT_STORE_URL}) or postgres://USER@HOST/DB`,
  );
}

/** `?search_width=N` as a number, checked like the stores' `searchWidth` option. */
function searchWidthParam(params: URLSearchParams, url: string): number | undefined {
  const value = params.get('search_width');
  if (value === null) return undefined;
  const width = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  checkSearchWidth(width, `store URL ${url}: search_width`, `'${value}'`);
  return width;
}
