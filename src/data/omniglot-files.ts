// One Omniglot split as its encoded PNG files (a few MB), indexed by alphabet, character and
// drawer: for showing the files themselves (the web page's explorer), not for training on them.
import fs from 'node:fs';
import path from 'node:path';
import { TwinshotError } from '../errors.js';
import { locateOmniglot, omniglotDrawer, OMNIGLOT_FILES, type OmniglotSplit } from './omniglot.js';
import { readZip } from './zip.js';

/** alphabet -> character -> drawer (0-based) -> PNG bytes */
export type OmniglotFiles = Map<string, Map<string, Map<number, Uint8Array>>>;

function addEntry(index: OmniglotFiles, relative: string, bytes: Uint8Array): void {
  const parts = relative.split('/').filter((p) => p !== '');
  if (parts.length < 3) return;
  const [alphabet, character, file] = parts.slice(-3) as [string, string, string];
  const drawer = omniglotDrawer(file);
  if (drawer < 0) return;
  let characters = index.get(alphabet);
  if (!characters) index.set(alphabet, (characters = new Map()));
  let drawers = characters.get(character);
  if (!drawers) characters.set(character, (drawers = new Map()));
  drawers.set(drawer, bytes);
}

export interface ReadOmniglotFilesOptions {
  /** A folder holding the split's zip or extracted folder, or the zip itself (default: {@link locateOmniglot}). */
  source?: string;
  /** Default 'evaluation'. */
  split?: OmniglotSplit;
  /** Alphabets with fewer characters are left out (default 1). */
  minCharacters?: number;
}

/**
 * Reads a split's PNG files without decoding them, from its zip or its extracted folder.
 * @throws TwinshotError ERR_DATASET when the data is missing or no alphabet has `minCharacters` characters
 */
export function readOmniglotFiles(options: ReadOmniglotFilesOptions = {}): OmniglotFiles {
  const source = locateOmniglot(options.source);
  const { file } = OMNIGLOT_FILES[options.split ?? 'evaluation'];
  const minCharacters = options.minCharacters ?? 1;
  const zip = source.endsWith('.zip') ? source : path.join(source, file);
  const folder = path.join(source, file.replace(/\.zip$/, ''));
  const index: OmniglotFiles = new Map();
  if (fs.existsSync(zip) && fs.statSync(zip).isFile()) {
    for (const [inner, bytes] of readZip(zip)) addEntry(index, inner, bytes);
  } else if (fs.existsSync(folder)) {
    const walk = (dir: string, relative: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const rel = `${relative}/${entry.name}`;
        if (entry.isDirectory()) walk(path.join(dir, entry.name), rel);
        else if (entry.name.toLowerCase().endsWith('.png'))
          addEntry(index, rel, fs.readFileSync(path.join(dir, entry.name)));
      }
    };
    walk(folder, '');
  } else {
    throw new TwinshotError(
      'ERR_DATASET',
      `Omniglot's ${options.split ?? 'evaluation'} set (${file}) is not in ${source}; run \`twinshot data omniglot\` to download it`,
    );
  }
  for (const [alphabet, characters] of index) if (characters.size < minCharacters) index.delete(alphabet);
  if (index.size === 0)
    throw new TwinshotError('ERR_DATASET', `${source}: no alphabet of ${file} has ${minCharacters} characters`);
  return index;
}
