// Omniglot (Lake et al. 2015) from its release zips or their extracted folders: alphabet = group,
// Alphabet/characterNN = class, and the drawer from each file name `NNNN_DD.png`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TwinshotError } from '../errors.js';
import {
  buildImageSet,
  checkPreprocessing,
  defaultWarning,
  relativePath,
  type LabeledSource,
  type LoadOptions,
} from './build.js';
import { defaultCacheDir, statFingerprint } from './cache.js';
import type { ImageSet } from './dataset.js';
import { readZip } from './zip.js';

export type OmniglotSplit = 'background' | 'evaluation';

/** The official release: brendenlake/omniglot on GitHub, with the MD5s torchvision checks. */
export const OMNIGLOT_FILES: Record<
  OmniglotSplit,
  { file: string; url: string; md5: string; images: number; alphabets: number }
> = {
  background: {
    file: 'images_background.zip',
    url: 'https://raw.githubusercontent.com/brendenlake/omniglot/master/python/images_background.zip',
    md5: '68d2efa1b9178cc56df9314c21c6e718',
    images: 19280,
    alphabets: 30,
  },
  evaluation: {
    file: 'images_evaluation.zip',
    url: 'https://raw.githubusercontent.com/brendenlake/omniglot/master/python/images_evaluation.zip',
    md5: '6b91aef0f799c5bb55b94e3f2daec811',
    images: 13180,
    alphabets: 20,
  },
};

/** The one-shot runs of Lake et al. (20 runs of 20-way one-shot classification). */
export const OMNIGLOT_RUNS = {
  file: 'all_runs.zip',
  url: 'https://raw.githubusercontent.com/brendenlake/omniglot/master/python/one-shot-classification/all_runs.zip',
};

const HELP =
  'run `twinshot data omniglot` to download it, or set TWINSHOT_OMNIGLOT to a folder holding ' +
  'images_background.zip and images_evaluation.zip (from github.com/brendenlake/omniglot, folder python/)';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The folder the downloader writes to: `<cache>/omniglot`. */
export function omniglotDownloadDir(): string {
  return path.join(defaultCacheDir(), 'omniglot');
}

function holdsOmniglot(dir: string): boolean {
  return Object.values(OMNIGLOT_FILES).some(
    (f) => fs.existsSync(path.join(dir, f.file)) || fs.existsSync(path.join(dir, f.file.replace(/\.zip$/, ''))),
  );
}

/**
 * Finds the Omniglot folder: `explicit` if given, else `$TWINSHOT_OMNIGLOT`, else the project's
 * `../shared/omniglot`, else the download cache. Returns the first that holds the zips (or their
 * extracted folders).
 * @throws TwinshotError ERR_DATASET naming every place it looked, and how to get the data
 */
export function locateOmniglot(explicit?: string): string {
  if (explicit !== undefined) {
    if (!fs.existsSync(explicit))
      throw new TwinshotError('ERR_DATASET', `Omniglot source ${explicit} does not exist; ${HELP}`);
    return path.resolve(explicit);
  }
  const candidates: string[] = [];
  if (process.env.TWINSHOT_OMNIGLOT) candidates.push(path.resolve(process.env.TWINSHOT_OMNIGLOT));
  candidates.push(path.resolve(repoRoot, '../shared/omniglot'), omniglotDownloadDir());
  for (const dir of candidates) if (holdsOmniglot(dir)) return dir;
  throw new TwinshotError('ERR_DATASET', `Omniglot was not found (looked in ${candidates.join(', ')}); ${HELP}`);
}

export interface LoadOmniglotOptions extends LoadOptions {
  /** A zip, an extracted `images_*` folder, or a folder holding them (default: {@link locateOmniglot}). */
  source?: string;
  /** Which half when `source` is a folder holding both (default 'background'); 'all' joins them. */
  split?: OmniglotSplit | 'all';
}

const DRAWER_NAME = /^(\d+)_(\d+)\.png$/i;

/** The 0-based drawer in a file name like `0709_01.png` (drawer 01 is 0), or -1. */
export function omniglotDrawer(fileName: string): number {
  const match = DRAWER_NAME.exec(fileName);
  return match ? Number(match[2]) - 1 : -1;
}

interface Located {
  kind: 'zip' | 'folder';
  path: string;
  split: string;
}

function locateSplit(source: string, split: OmniglotSplit): Located {
  const info = OMNIGLOT_FILES[split];
  const zip = path.join(source, info.file);
  if (fs.existsSync(zip)) return { kind: 'zip', path: zip, split };
  const folder = path.join(source, info.file.replace(/\.zip$/, ''));
  if (fs.existsSync(folder) && fs.statSync(folder).isDirectory()) return { kind: 'folder', path: folder, split };
  throw new TwinshotError('ERR_DATASET', `${info.file} (Omniglot's ${split} set) was not found in ${source}; ${HELP}`);
}

function describeLayout(): string {
  return 'expected <Alphabet>/<characterNN>/<NNNN_DD>.png, as in the release (images_background/Alphabet_of_the_Magi/character01/0709_01.png)';
}

/** Turns paths inside one split (zip entries or files) into labelled sources, checking the layout. */
function sourcesFromPaths(
  entries: { inner: string; display: string; read: () => Uint8Array }[],
  where: string,
  warn: (m: string) => void,
): LabeledSource[] {
  const pngs = entries.filter((e) => e.inner.toLowerCase().endsWith('.png'));
  const others = entries.filter(
    (e) => !e.inner.toLowerCase().endsWith('.png') && !path.posix.basename(e.inner).startsWith('.'),
  );
  if (pngs.length === 0) {
    throw new TwinshotError('ERR_DATASET', `${where} holds no PNG images; ${describeLayout()}`);
  }
  // The release nests everything under one images_background/ (or images_evaluation/) folder;
  // below it, every image must sit exactly two folders down: <Alphabet>/<character>/<file>.
  const firsts = new Set(pngs.map((e) => e.inner.split('/')[0]));
  const first = [...firsts][0]!;
  const prefixDepth = firsts.size === 1 && /^images_/i.test(first) ? 1 : 0;
  const wrong = pngs.find((e) => e.inner.split('/').length !== prefixDepth + 3);
  if (wrong !== undefined) {
    const depth = wrong.inner.split('/').length - prefixDepth;
    const problem =
      depth < 3 ? 'has images outside character folders' : 'has images nested deeper than character folders';
    throw new TwinshotError('ERR_DATASET', `${where} ${problem} (e.g. ${wrong.inner}); ${describeLayout()}`);
  }
  if (others.length > 0) {
    warn(
      `ignored ${others.length} files in ${where} that are not PNG images: ` +
        others
          .slice(0, 10)
          .map((o) => o.inner)
          .join(', ') +
        (others.length > 10 ? ', ...' : ''),
    );
  }
  const sources = pngs.map((e) => {
    const parts = e.inner.split('/');
    const file = parts[parts.length - 1]!;
    const character = parts[parts.length - 2]!;
    const alphabet = parts[parts.length - 3]!;
    return {
      path: e.display,
      read: e.read,
      className: `${alphabet}/${character}`,
      groupName: alphabet,
      drawer: omniglotDrawer(file),
    };
  });
  // Independent of the zip's entry order: alphabet, character, then file name.
  const collator = new Intl.Collator('en', { numeric: true });
  return sources.sort((a, b) => collator.compare(a.className, b.className) || collator.compare(a.path, b.path));
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) out.push(full);
    }
  };
  walk(root);
  return out.sort();
}

/** The split's fingerprint now, and its sources only when asked (a cache hit never unzips). */
function splitSources(
  located: Located,
  warn: (message: string) => void,
): { fingerprint: unknown; sources: () => LabeledSource[] } {
  if (located.kind === 'zip') {
    return {
      fingerprint: { kind: 'zip', stat: statFingerprint(located.path) },
      sources: () =>
        sourcesFromPaths(
          [...readZip(located.path, HELP)].map(([inner, bytes]) => ({
            inner,
            display: `${located.path}:${inner}`,
            read: () => bytes,
          })),
          located.path,
          warn,
        ),
    };
  }
  const files = listFiles(located.path);
  return {
    fingerprint: { kind: 'folder', stat: statFingerprint(located.path, files) },
    sources: () =>
      sourcesFromPaths(
        files.map((file) => ({
          inner: relativePath(located.path, file),
          display: file,
          read: () => fs.readFileSync(file),
        })),
        located.path,
        warn,
      ),
  };
}

/** Loads one or more splits as one set (one decode, one cache file: no copy to join them). */
async function loadSplits(parts: Located[], options: LoadOmniglotOptions): Promise<ImageSet> {
  const preprocessing = checkPreprocessing(options, { size: 105, invert: true });
  const warn = options.onWarning ?? defaultWarning;
  const found = parts.map((part) => splitSources(part, warn));
  const listAll = (): LabeledSource[] => {
    const lists = found.map((f) => f.sources());
    // Alphabets are told apart by name; one name in two halves would silently merge classes.
    const owner = new Map<string, number>();
    lists.forEach((list, i) => {
      for (const s of list) {
        const seen = owner.get(s.groupName);
        if (seen !== undefined && seen !== i) {
          throw new TwinshotError(
            'ERR_DATASET',
            `alphabet '${s.groupName}' is in both ${parts[seen]!.path} and ${parts[i]!.path}; load them separately`,
          );
        }
        owner.set(s.groupName, i);
      }
    });
    return lists.flat();
  };
  return buildImageSet({
    sources: listAll,
    preprocessing,
    description: parts.map((p) => p.path).join(' + '),
    cacheName: `omniglot-${parts.map((p) => p.split).join('+')}`,
    fingerprint: found.map((f) => f.fingerprint),
    options,
  });
}

/**
 * Loads Omniglot: every image as uint8 [N, 1, size, size], ink bright (inverted) by default.
 * A 28x28 load of both halves (32,460 images) decodes in a few seconds; later loads read the cache.
 *
 * @example
 * const background = await loadOmniglot({ size: 105 }); // 30 alphabets, 964 characters, 19,280 images
 * const evaluation = await loadOmniglot({ split: 'evaluation', size: 105 });
 * @throws TwinshotError ERR_DATASET when the data is missing, damaged or not laid out like the release
 */
export async function loadOmniglot(options: LoadOmniglotOptions = {}): Promise<ImageSet> {
  const source = locateOmniglot(options.source);
  const stat = fs.statSync(source);
  if (stat.isFile()) {
    if (options.split === 'all')
      throw new TwinshotError('ERR_ARGUMENT', `split 'all' needs a folder holding both zips; ${source} is one file`);
    const name = path.basename(source).toLowerCase();
    const split = name.includes('evaluation')
      ? 'evaluation'
      : name.includes('background')
        ? 'background'
        : path.basename(source, '.zip');
    return loadSplits([{ kind: 'zip', path: source, split }], options);
  }
  if (holdsOmniglot(source)) {
    const split = options.split ?? 'background';
    if (split === 'all') {
      return loadSplits([locateSplit(source, 'background'), locateSplit(source, 'evaluation')], options);
    }
    if (split !== 'background' && split !== 'evaluation') {
      throw new TwinshotError('ERR_ARGUMENT', `split must be 'background', 'evaluation' or 'all'; got '${split}'`);
    }
    return loadSplits([locateSplit(source, split)], options);
  }
  // An extracted split folder itself (images_background/ or a copy with another name).
  const name = path.basename(source).toLowerCase();
  const split = name.includes('evaluation')
    ? 'evaluation'
    : name.includes('background')
      ? 'background'
      : path.basename(source);
  return loadSplits([{ kind: 'folder', path: source, split }], options);
}
