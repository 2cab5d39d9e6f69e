// From a list of labelled image sources to an ImageSet: cache lookup, decoding, the bad-file
// policy (warn and skip a few, refuse a set that is mostly unreadable), and the cache write.
import path from 'node:path';
import { TwinshotError } from '../errors.js';
import { tensor } from '../engine/tensor.js';
import { cacheFile, cacheKey, readCachedSet, resolveCacheDir, writeCachedSet } from './cache.js';
import { ImageSet, type SkippedFile } from './dataset.js';
import { decodeMany, type ImageSource } from './decode.js';
import type { Preprocessing } from './image.js';

/** Options every loader takes. */
export interface LoadOptions {
  /** Side of the square images, in pixels (default 105, Koch et al.'s input). */
  size?: number;
  /** Store ink as 255 on 0 (default true for Omniglot, false for other sources). */
  invert?: boolean;
  /** 'ink' crops each picture to the square around its strokes before resizing (default 'image'). */
  frame?: 'image' | 'ink';
  /** false: no cache; a string: this cache folder; default: {@link defaultCacheDir}. */
  cache?: boolean | string;
  /** Receives one message per problem that did not stop the load (default: console.warn). */
  onWarning?: (message: string) => void;
  /** Called now and then while decoding. */
  onProgress?: (done: number, total: number) => void;
  /** Largest share of files that may be skipped as undecodable before the load fails (default 0.1). */
  maxSkippedFraction?: number;
}

/** One image and where it belongs. */
export interface LabeledSource extends ImageSource {
  className: string;
  groupName: string;
  /** 0-based drawer (writer), or -1. */
  drawer: number;
}

export interface BuildRequest {
  /** The images, or a function that lists them (called only when the cache misses). */
  sources: readonly LabeledSource[] | (() => readonly LabeledSource[]);
  preprocessing: Preprocessing;
  /** The data set's location, for messages. */
  description: string;
  /** A readable prefix for the cache file name. */
  cacheName: string;
  /** What identifies the sources' contents (see statFingerprint); null disables the cache. */
  fingerprint: unknown;
  options: LoadOptions;
}

export const MAX_LISTED_FILES = 10;

export function defaultWarning(message: string): void {
  console.warn(`twinshot: warning: ${message}`);
}

/** One message naming the skipped files (the first few) and how many there were. */
export function skippedMessage(skipped: readonly SkippedFile[], total: number, description: string): string {
  const lines = skipped.slice(0, MAX_LISTED_FILES).map((s) => `  ${s.path}: ${s.reason}`);
  const more = skipped.length > MAX_LISTED_FILES ? `\n  ... and ${skipped.length - MAX_LISTED_FILES} more` : '';
  return `skipped ${skipped.length} of ${total} files in ${description} that are not readable images:\n${lines.join('\n')}${more}`;
}

export function checkPreprocessing(options: LoadOptions, defaults: Preprocessing): Preprocessing {
  const size = options.size ?? defaults.size;
  if (!Number.isInteger(size) || size < 1 || size > 4096) {
    throw new TwinshotError('ERR_ARGUMENT', `size must be an integer number of pixels in [1, 4096]; got ${size}`);
  }
  const frame = options.frame ?? 'image';
  if (frame !== 'image' && frame !== 'ink') {
    throw new TwinshotError('ERR_ARGUMENT', `frame must be 'image' or 'ink'; got ${String(frame)}`);
  }
  // 'image' is left out of the record so that caches and model cards from before framing still match.
  return frame === 'ink'
    ? { size, invert: options.invert ?? defaults.invert, frame }
    : { size, invert: options.invert ?? defaults.invert };
}

/**
 * Builds (or reads from the cache) the set for `request.sources`, classes and groups numbered in
 * order of first appearance (loaders sort their sources so that this order is stable).
 * @throws TwinshotError ERR_DATASET when there are no sources, when more than maxSkippedFraction of
 *   them fail to decode, or when every image of a class fails
 */
export async function buildImageSet(request: BuildRequest): Promise<ImageSet> {
  const { preprocessing, description, options } = request;
  const warn = options.onWarning ?? defaultWarning;
  const dir = request.fingerprint === null ? false : resolveCacheDir(options.cache);
  const key = cacheKey({ fingerprint: request.fingerprint, preprocessing });
  const file = dir === false ? undefined : cacheFile(dir, `${request.cacheName}-${preprocessing.size}`, key);
  if (file !== undefined) {
    const cached = readCachedSet(file, key);
    if (cached !== null) {
      if (cached.skipped.length > 0)
        warn(skippedMessage(cached.skipped, cached.size + cached.skipped.length, description));
      return cached;
    }
  }
  const sources = typeof request.sources === 'function' ? request.sources() : request.sources;
  if (sources.length === 0) {
    throw new TwinshotError('ERR_DATASET', `no images found in ${description}`);
  }

  const decodeOptions: { onProgress?: (done: number, total: number) => void } = {};
  if (options.onProgress) decodeOptions.onProgress = options.onProgress;
  const result = await decodeMany(sources, preprocessing, decodeOptions);
  const maxFraction = options.maxSkippedFraction ?? 0.1;
  if (result.skipped.length > 0) {
    if (result.skipped.length === sources.length || result.skipped.length > maxFraction * sources.length) {
      const first = result.skipped[0]!;
      throw new TwinshotError(
        'ERR_DATASET',
        `${result.skipped.length} of ${sources.length} files in ${description} could not be decoded (first: ${first.path}: ${first.reason}); ` +
          'check that the path points at the images and that the download is complete (raise maxSkippedFraction to accept this)',
      );
    }
    warn(skippedMessage(result.skipped, sources.length, description));
  }

  // Number classes and groups by first appearance among the images that decoded.
  const classIndex = new Map<string, number>();
  const groupIndex = new Map<string, number>();
  const classNames: string[] = [];
  const classGroup: number[] = [];
  const groupNames: string[] = [];
  const kept: number[] = [];
  const allClasses = new Set<string>();
  for (let i = 0; i < sources.length; i++) {
    const s = sources[i]!;
    const classKey = `${s.groupName}\0${s.className}`;
    allClasses.add(classKey);
    if (!result.decoded[i]) continue;
    kept.push(i);
    if (!classIndex.has(classKey)) {
      let g = groupIndex.get(s.groupName);
      if (g === undefined) {
        g = groupNames.push(s.groupName) - 1;
        groupIndex.set(s.groupName, g);
      }
      classIndex.set(classKey, classNames.push(s.className) - 1);
      classGroup.push(g);
    }
  }
  if (classIndex.size !== allClasses.size) {
    const reasons = new Map(result.skipped.map((s) => [s.path, s.reason]));
    const lost = sources.find((s) => !classIndex.has(`${s.groupName}\0${s.className}`))!;
    throw new TwinshotError(
      'ERR_DATASET',
      `class '${lost.className}'${lost.groupName ? ` (group '${lost.groupName}')` : ''} in ${description} has no readable image ` +
        `(${lost.path}: ${reasons.get(lost.path) ?? 'skipped'}); replace its files or remove the class`,
    );
  }

  const area = preprocessing.size * preprocessing.size;
  let pixels = result.pixels;
  if (kept.length !== sources.length) {
    // Close the gaps left by skipped files, in place.
    kept.forEach((from, to) => {
      if (from !== to) pixels.copyWithin(to * area, from * area, (from + 1) * area);
    });
    pixels = pixels.subarray(0, kept.length * area);
  }
  const set = new ImageSet({
    pixels: tensor(pixels, { shape: [kept.length, 1, preprocessing.size, preprocessing.size], dtype: 'uint8' }),
    labels: Int32Array.from(kept, (i) => classIndex.get(`${sources[i]!.groupName}\0${sources[i]!.className}`)!),
    classNames,
    classGroup: Int32Array.from(classGroup),
    groupNames,
    drawers: Int32Array.from(kept, (i) => sources[i]!.drawer),
    paths: kept.map((i) => sources[i]!.path),
    preprocessing,
    source: description,
    skipped: result.skipped,
  });
  if (file !== undefined) {
    try {
      writeCachedSet(file, key, set, pixels);
    } catch (error) {
      warn(`could not write the cache file ${file} (${(error as Error).message}); the next run decodes again`);
    }
  }
  return set;
}

/** `file` relative to `root` with forward slashes, for messages and stable class names. */
export function relativePath(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}
