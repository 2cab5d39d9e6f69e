// The image arguments of the commands that take many images (embed, gallery enroll and identify):
// files, folders, glob patterns and `--files-from FILE` (or `-` for stdin), so thousands of images
// never have to pass through a command line, which Linux limits (128 KiB for one argument, and npx
// joins every argument into one).
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { TwinshotError } from '../errors.js';

export interface ImagePathOptions {
  /** A file listing image paths, one per line; '-' reads them from standard input. */
  filesFrom?: string;
}

/** Adds `--files-from` and help text on the accepted forms to a command taking `[images...]`. */
export function withImagePaths(command: Command): Command {
  return command
    .option('--files-from <file>', "read image paths from FILE, one per line ('-' for standard input)")
    .addHelpText(
      'after',
      "\nImages can be files, folders (every image inside, recursively), quoted glob patterns ('scans/**/*.png'),\n" +
        'or listed in a file or on standard input with --files-from: for thousands of images use a folder,\n' +
        'a pattern or --files-from rather than listing them (a command line holds 128 KiB at most).',
    );
}

/** Every image file under `dir`, in sorted order (stable across runs and machines). */
function imagesInFolder(dir: string, extensions: readonly string[]): string[] {
  const found: string[] = [];
  const walk = (folder: string): void => {
    const entries = fs.readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && extensions.includes(path.extname(entry.name).toLowerCase())) found.push(full);
    }
  };
  walk(dir);
  return found;
}

function readList(source: string): string[] {
  let text: string;
  try {
    text = source === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(source, 'utf8');
  } catch (error) {
    throw new TwinshotError(
      'ERR_ARGUMENT',
      `--files-from ${source}: cannot read it (${(error as Error).message}); give a file with one image path per line, or '-' for standard input`,
    );
  }
  return text
    .split('\n')
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.trim() !== '');
}

/**
 * The image files that `args` and `options.filesFrom` name, in the order given: a file as is, a
 * folder as every image inside it (recursively, sorted), a glob pattern as its matches (sorted).
 * Paths read with --files-from are taken literally.
 * @throws TwinshotError ERR_ARGUMENT naming what does not exist or matched nothing, or when no image is given
 */
export async function resolveImagePaths(args: readonly string[], options: ImagePathOptions = {}): Promise<string[]> {
  // Loaded here, not at startup: every command registers its options when the CLI starts.
  const [{ glob, isDynamicPattern }, { IMAGE_EXTENSIONS }] = await Promise.all([
    import('tinyglobby'),
    import('../data/image-folder.js'),
  ]);
  const files: string[] = [];
  for (const arg of args) {
    const stat = fs.statSync(arg, { throwIfNoEntry: false });
    if (stat?.isDirectory()) {
      const inside = imagesInFolder(arg, IMAGE_EXTENSIONS);
      if (inside.length === 0)
        throw new TwinshotError('ERR_ARGUMENT', `folder ${arg} holds no images (${IMAGE_EXTENSIONS.join(', ')})`);
      files.push(...inside);
    } else if (stat !== undefined) {
      files.push(arg);
    } else if (isDynamicPattern(arg)) {
      const matches = (await glob(arg, { onlyFiles: true, expandDirectories: false })).sort();
      if (matches.length === 0) throw new TwinshotError('ERR_ARGUMENT', `pattern ${arg} matched no files`);
      files.push(...matches);
    } else {
      throw new TwinshotError('ERR_ARGUMENT', `image ${arg} does not exist`);
    }
  }
  if (options.filesFrom !== undefined) {
    for (const file of readList(options.filesFrom)) {
      if (!fs.existsSync(file))
        throw new TwinshotError(
          'ERR_ARGUMENT',
          `image ${file} (listed in --files-from ${options.filesFrom}) does not exist`,
        );
      files.push(file);
    }
  }
  if (files.length === 0) {
    throw new TwinshotError(
      'ERR_ARGUMENT',
      'no images given: name image files, folders or quoted patterns, or list them with --files-from FILE (- for standard input)',
    );
  }
  return files;
}
