// Reading image archives (Omniglot's zips, the one-shot runs) into memory with fflate, with
// errors that say which file is missing or damaged and what to do about it.
import fs from 'node:fs';
import { unzipSync } from 'fflate';
import { TwinshotError } from '../errors.js';

/**
 * Every file in a zip (folders and macOS `__MACOSX/` metadata left out), by path inside the zip.
 * @throws TwinshotError ERR_DATASET when the file is missing or is not a readable zip
 */
export function readZip(file: string, hint = ''): Map<string, Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as Error).message})`;
    throw new TwinshotError('ERR_DATASET', `${file} ${what}${hint ? `; ${hint}` : ''}`, { cause: error });
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes, { filter: (entry) => !entry.name.endsWith('/') && !entry.name.startsWith('__MACOSX/') });
  } catch (error) {
    throw new TwinshotError(
      'ERR_DATASET',
      `${file} is not a readable zip archive (${(error as Error).message}); it may be truncated: download it again${hint ? `, or ${hint}` : ''}`,
      { cause: error },
    );
  }
  return new Map(Object.entries(entries));
}
