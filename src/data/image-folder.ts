// Image folders: `root/<class>/<image>` or `root/<group>/<class>/<image>`, PNG or JPEG (any
// format sharp reads), grayscale or colour, each class a folder.
import fs from 'node:fs';
import path from 'node:path';
import { TwinshotError } from '../errors.js';
import {
  buildImageSet,
  checkPreprocessing,
  defaultWarning,
  relativePath,
  type LabeledSource,
  type LoadOptions,
} from './build.js';
import { statFingerprint } from './cache.js';
import type { ImageSet } from './dataset.js';

/** File extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export type FolderLayout = 'auto' | 'flat' | 'grouped';

export interface LoadImageFolderOptions extends LoadOptions {
  /** 'flat': root/<class>/*; 'grouped': root/<group>/<class>/*; 'auto' (default) tells them apart. */
  layout?: FolderLayout;
}

function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

interface Listing {
  dirs: string[];
  files: string[];
}

function list(dir: string): Listing {
  const dirs: string[] = [];
  const files: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue; // .DS_Store, .git, editors' temp files
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const stat = fs.statSync(path.join(dir, entry.name), { throwIfNoEntry: false });
      isDir = stat?.isDirectory() ?? false;
      isFile = stat?.isFile() ?? false;
    }
    if (isDir) dirs.push(entry.name);
    else if (isFile) files.push(entry.name);
  }
  const collator = new Intl.Collator('en', { numeric: true });
  return { dirs: dirs.sort(collator.compare), files: files.sort(collator.compare) };
}

const LAYOUT_HELP = 'lay images out as root/<class>/<image> or root/<group>/<class>/<image>';

/**
 * Loads an image folder. Files that are not images (by extension) are skipped with one warning;
 * images that fail to decode are skipped with one warning naming them (see maxSkippedFraction).
 *
 * @example
 * const set = await loadImageFolder('data/letters', { size: 28 }); // root/<class>/*.png
 * @throws TwinshotError ERR_DATASET when the folder is missing, empty, mixes images and class
 *   folders at one level, or has a class folder without images
 */
export async function loadImageFolder(root: string, options: LoadImageFolderOptions = {}): Promise<ImageSet> {
  const preprocessing = checkPreprocessing(options, { size: 105, invert: false });
  const warn = options.onWarning ?? defaultWarning;
  const resolved = path.resolve(root);
  const stat = fs.statSync(resolved, { throwIfNoEntry: false });
  if (!stat) throw new TwinshotError('ERR_DATASET', `image folder ${resolved} does not exist`);
  if (!stat.isDirectory()) throw new TwinshotError('ERR_DATASET', `${resolved} is not a folder; ${LAYOUT_HELP}`);

  const top = list(resolved);
  const strayImages = top.files.filter(isImage);
  if (strayImages.length > 0) {
    throw new TwinshotError(
      'ERR_DATASET',
      `${resolved} has images directly inside it (e.g. ${strayImages[0]}), so they have no class; ${LAYOUT_HELP}`,
    );
  }
  if (top.dirs.length === 0) throw new TwinshotError('ERR_DATASET', `${resolved} has no class folders; ${LAYOUT_HELP}`);

  // A layout is 'grouped' when the first level holds only folders; images decide 'flat'.
  const second = new Map(top.dirs.map((d) => [d, list(path.join(resolved, d))]));
  let layout = options.layout ?? 'auto';
  if (layout === 'auto') {
    const withImages = top.dirs.filter((d) => second.get(d)!.files.some(isImage));
    const withFolders = top.dirs.filter((d) => second.get(d)!.dirs.length > 0);
    if (withImages.length > 0 && withFolders.length > 0) {
      throw new TwinshotError(
        'ERR_DATASET',
        `${resolved} mixes layouts: ${withImages[0]}/ holds images but ${withFolders[0]}/ holds folders; ${LAYOUT_HELP}`,
      );
    }
    layout = withFolders.length > 0 ? 'grouped' : 'flat';
  }

  const sources: LabeledSource[] = [];
  const allFiles: string[] = [];
  const ignored: string[] = [];
  const addClass = (dir: string, className: string, groupName: string, listing: Listing): void => {
    const images = listing.files.filter(isImage);
    for (const other of listing.files.filter((f) => !isImage(f))) ignored.push(path.join(dir, other));
    if (images.length === 0) {
      throw new TwinshotError(
        'ERR_DATASET',
        `class folder ${dir} has no images (${IMAGE_EXTENSIONS.join(', ')})${listing.dirs.length ? ` but has folders (${listing.dirs[0]}/)` : ''}; add images or remove the folder`,
      );
    }
    for (const image of images) {
      const file = path.join(dir, image);
      allFiles.push(file);
      sources.push({ path: file, read: () => fs.readFileSync(file), className, groupName, drawer: -1 });
    }
  };
  for (const top1 of top.dirs) {
    const dir = path.join(resolved, top1);
    const listing = second.get(top1)!;
    if (layout === 'flat') {
      if (listing.dirs.length > 0 && !listing.files.some(isImage)) {
        throw new TwinshotError(
          'ERR_DATASET',
          `${dir} holds folders, not images, but the layout is 'flat' (root/<class>/<image>)`,
        );
      }
      addClass(dir, top1, '', listing);
    } else {
      for (const file of listing.files) (isImage(file) ? strayImages : ignored).push(path.join(dir, file));
      if (strayImages.length > 0) {
        throw new TwinshotError(
          'ERR_DATASET',
          `${strayImages[0]} sits in a group folder, outside any class folder; ${LAYOUT_HELP}`,
        );
      }
      if (listing.dirs.length === 0)
        throw new TwinshotError('ERR_DATASET', `group folder ${dir} has no class folders; ${LAYOUT_HELP}`);
      for (const className of listing.dirs) {
        const classDir = path.join(dir, className);
        const classListing = list(classDir);
        if (classListing.dirs.length > 0 && !classListing.files.some(isImage)) {
          throw new TwinshotError(
            'ERR_DATASET',
            `${classDir} holds folders, not images: the layout is deeper than root/<group>/<class>/<image>`,
          );
        }
        addClass(classDir, `${top1}/${className}`, top1, classListing);
      }
    }
  }
  if (ignored.length > 0) {
    const named = ignored.slice(0, 10).map((f) => relativePath(resolved, f));
    warn(
      `ignored ${ignored.length} files in ${resolved} that are not images: ${named.join(', ')}${ignored.length > 10 ? ', ...' : ''}`,
    );
  }
  return buildImageSet({
    sources,
    preprocessing,
    description: resolved,
    cacheName: `folder-${path.basename(resolved)}`,
    fingerprint: { layout, stat: statFingerprint(resolved, allFiles) },
    options,
  });
}
