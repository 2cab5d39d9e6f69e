// On-disk cache of decoded image sets, so a second run reads one file instead of decoding again.
// A file is keyed by its source (path, size, mtime) and preprocessing; a damaged file is ignored.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { tensor } from '../engine/tensor.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { ImageSet, type SkippedFile } from './dataset.js';
import type { Preprocessing } from './image.js';

const MAGIC = 'TWSET001';
/** Bumped whenever decoding changes what pixels a source gives, so old caches stop matching. */
export const CACHE_FORMAT_VERSION = 1;

interface CacheHeader {
  version: number;
  key: string;
  count: number;
  preprocessing: Preprocessing;
  labels: number[];
  classNames: string[];
  classGroup: number[];
  groupNames: string[];
  drawers: number[];
  paths: string[];
  source: string;
  skipped: SkippedFile[];
  /** sha256 of the pixel bytes: a flipped bit is caught, not trained on. */
  pixelsSha256: string;
}

/** The cache folder: `$TWINSHOT_CACHE`, else `$XDG_CACHE_HOME/twinshot`, else `~/.cache/twinshot`. */
export function defaultCacheDir(): string {
  if (process.env.TWINSHOT_CACHE) return path.resolve(process.env.TWINSHOT_CACHE);
  if (process.env.XDG_CACHE_HOME) return path.join(path.resolve(process.env.XDG_CACHE_HOME), 'twinshot');
  return path.join(os.homedir(), '.cache', 'twinshot');
}

/** Where a loader's `cache` option says to cache: false for no cache, a folder otherwise. */
export function resolveCacheDir(option: boolean | string | undefined): string | false {
  if (option === false) return false;
  if (typeof option === 'string') return path.resolve(option);
  return defaultCacheDir();
}

/** A short stable hash of anything JSON-serialisable. */
export function cacheKey(parts: unknown): string {
  return crypto
    .createHash('sha256')
    .update(JSON.stringify({ v: CACHE_FORMAT_VERSION, parts }))
    .digest('hex')
    .slice(0, 32);
}

/** The file that holds the set with this key; `name` makes it readable in a listing. */
export function cacheFile(dir: string, name: string, key: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 80);
  return path.join(dir, 'sets', `${safe}-${key}.twset`);
}

/**
 * What identifies a file or folder's contents cheaply: its path, byte size and modification time.
 * For a folder, every file under it counts, so adding or touching an image invalidates the cache.
 */
export function statFingerprint(target: string, files?: readonly string[]): unknown {
  const stat = fs.statSync(target);
  if (!stat.isDirectory() || files === undefined)
    return { path: path.resolve(target), bytes: stat.size, mtimeMs: stat.mtimeMs };
  const hash = crypto.createHash('sha256');
  for (const file of files) {
    const s = fs.statSync(file);
    hash.update(`${path.relative(target, file)}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return { path: path.resolve(target), files: files.length, contents: hash.digest('hex') };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isIntArray(value: unknown, length?: number): value is number[] {
  return Array.isArray(value) && (length === undefined || value.length === length) && value.every(Number.isInteger);
}

/**
 * Reads a cached set, or returns null when the file is absent, from another version, for
 * another key, truncated or corrupt: the caller then decodes again and rewrites it.
 */
export function readCachedSet(file: string, key: string): ImageSet | null {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return null;
  }
  try {
    if (bytes.length < 12 || bytes.toString('latin1', 0, 8) !== MAGIC) return null;
    const headerLength = bytes.readUInt32LE(8);
    if (12 + headerLength > bytes.length) return null;
    const header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength)) as CacheHeader;
    if (header.version !== CACHE_FORMAT_VERSION || header.key !== key) return null;
    const n = header.count;
    const size = header.preprocessing?.size;
    if (!Number.isInteger(n) || n <= 0 || !Number.isInteger(size) || size <= 0) return null;
    if (
      !isIntArray(header.labels, n) ||
      !isIntArray(header.drawers, n) ||
      !isStringArray(header.paths) ||
      header.paths.length !== n
    )
      return null;
    if (
      !isStringArray(header.classNames) ||
      !isStringArray(header.groupNames) ||
      !isIntArray(header.classGroup, header.classNames.length)
    )
      return null;
    const start = align8(12 + headerLength);
    const pixelBytes = n * size * size;
    if (bytes.length !== start + pixelBytes) return null;
    const pixels = bytes.subarray(start, start + pixelBytes);
    if (crypto.createHash('sha256').update(pixels).digest('hex') !== header.pixelsSha256) return null;
    return new ImageSet({
      pixels: tensor(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), {
        shape: [n, 1, size, size],
        dtype: 'uint8',
      }),
      labels: Int32Array.from(header.labels),
      classNames: header.classNames,
      classGroup: Int32Array.from(header.classGroup),
      groupNames: header.groupNames,
      drawers: Int32Array.from(header.drawers),
      paths: header.paths,
      preprocessing: header.preprocessing,
      source: header.source,
      skipped: Array.isArray(header.skipped) ? header.skipped : [],
    });
  } catch {
    // Anything unexpected in a cache file means "not usable", never a failed load.
    return null;
  }
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/**
 * Writes a set atomically (temp file + rename), so a crash never leaves a half file behind.
 * `pixels` may be given when the caller still holds them, to skip a copy out of the tensor.
 * @throws TwinshotError ERR_STORE when the file cannot be written (the caller may go on without it)
 */
export function writeCachedSet(file: string, key: string, set: ImageSet, pixels?: Uint8Array): void {
  const data = pixels ?? (set.pixels.cpu().data() as Uint8Array);
  const header: CacheHeader = {
    version: CACHE_FORMAT_VERSION,
    key,
    count: set.size,
    preprocessing: set.preprocessing,
    labels: Array.from(set.labels),
    classNames: [...set.classNames],
    classGroup: Array.from(set.classGroup),
    groupNames: [...set.groupNames],
    drawers: Array.from(set.drawers),
    paths: [...set.paths],
    source: set.source,
    skipped: [...set.skipped],
    pixelsSha256: crypto.createHash('sha256').update(data).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const start = align8(12 + json.length);
  const out = Buffer.alloc(start + data.byteLength);
  out.write(MAGIC, 0, 'latin1');
  out.writeUInt32LE(json.length, 8);
  json.copy(out, 12);
  out.set(data, start);
  writeFileAtomic(file, out);
}
