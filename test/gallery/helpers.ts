// Shared fixtures for the gallery and service tests: drawn symbols as PNGs, and the two stores
// (SQLite always; PostgreSQL + pgvector when TWINSHOT_TEST_PG_URL is set) behind one factory.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { PostgresStore } from '../../src/gallery/postgres-store.js';
import { SqliteStore } from '../../src/gallery/sqlite-store.js';
import type { GalleryStore } from '../../src/gallery/types.js';

export const PG_URL = process.env.TWINSHOT_TEST_PG_URL;

export type SymbolKind = 'circle' | 'cross' | 'triangle' | 'square' | 'zigzag' | 'wave' | 'spiral' | 'star';
export const SYMBOLS: readonly SymbolKind[] = [
  'circle',
  'cross',
  'triangle',
  'square',
  'zigzag',
  'wave',
  'spiral',
  'star',
];

const SHAPES: Record<SymbolKind, string> = {
  circle: '<circle cx="52" cy="52" r="30" fill="none"/>',
  cross: '<path d="M25 25 L80 80 M80 25 L25 80" fill="none"/>',
  triangle: '<path d="M52 20 L85 82 L19 82 Z" fill="none"/>',
  square: '<rect x="25" y="25" width="55" height="55" fill="none"/>',
  zigzag: '<path d="M15 70 L32 30 L50 70 L68 30 L88 70" fill="none"/>',
  wave: '<path d="M12 52 C 30 10, 45 10, 52 52 S 75 95, 92 52" fill="none"/>',
  spiral:
    '<path d="M52 52 m0 -6 a6 6 0 1 1 -6 6 a12 12 0 1 1 12 12 a20 20 0 1 1 -20 -20 a30 30 0 1 1 30 30" fill="none"/>',
  star: '<path d="M52 15 L62 88 L20 40 L85 40 L42 88 Z" fill="none"/>',
};

/**
 * A black-on-white 105x105 PNG of a symbol, like a drawing on the web page; `dx`/`dy` shift it
 * and `stroke` changes the pen, to make a second "drawer" of the same symbol.
 */
export async function drawSymbol(
  kind: SymbolKind,
  options: { dx?: number; dy?: number; stroke?: number; size?: number } = {},
): Promise<Buffer> {
  const { dx = 0, dy = 0, stroke = 6, size = 105 } = options;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 105 105">` +
    `<rect width="105" height="105" fill="white"/>` +
    `<g transform="translate(${dx} ${dy})" stroke="black" stroke-width="${stroke}" stroke-linecap="round" stroke-linejoin="round">${SHAPES[kind]}</g></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomVector(random: () => number, dim: number): Float32Array {
  return Float32Array.from({ length: dim }, () => random() * 2 - 1);
}

export interface StoreCase {
  name: 'sqlite' | 'sqlite-hnsw' | 'postgres';
  /** Opens a fresh, empty store; `reopen` opens the same data again (another connection or process). */
  open(): Promise<{ store: GalleryStore; url: string; reopen(): Promise<GalleryStore>; cleanup(): Promise<void> }>;
}

/** The SQLite store; `exactBelow` set low makes even test-sized galleries use the HNSW index. */
function sqliteStoreCase(name: 'sqlite' | 'sqlite-hnsw', exactBelow?: number): StoreCase {
  return {
    name,
    async open() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-gallery-'));
      const file = path.join(dir, 'gallery.db');
      const options = exactBelow === undefined ? {} : { exactBelow };
      const store = SqliteStore.open(file, options);
      return {
        store,
        url: `sqlite:${file}${exactBelow === undefined ? '' : `?exact_below=${exactBelow}`}`,
        reopen: async () => SqliteStore.open(file, options),
        cleanup: async () => {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

const sqliteCase = sqliteStoreCase('sqlite');
/** Galleries of 50 examples or more are searched through HNSW: the approximate path at test sizes. */
export const SQLITE_HNSW_CASE = sqliteStoreCase('sqlite-hnsw', 50);

const postgresCase: StoreCase = {
  name: 'postgres',
  async open() {
    const schema = `twinshot_test_${crypto.randomBytes(6).toString('hex')}`;
    const store = await PostgresStore.open(PG_URL!, { schema });
    const url = new URL(PG_URL!);
    url.searchParams.set('schema', schema);
    return {
      store,
      url: url.toString(),
      reopen: () => PostgresStore.open(PG_URL!, { schema }),
      cleanup: async () => {
        await store.dropSchema();
        await store.close();
      },
    };
  },
};

/** The stores every suite runs against: SQLite always, PostgreSQL when configured. */
export const STORE_CASES: StoreCase[] = PG_URL ? [sqliteCase, postgresCase] : [sqliteCase];
