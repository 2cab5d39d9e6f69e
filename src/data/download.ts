// Downloading Omniglot's official zips into the cache folder, with an MD5 check and, offline,
// an error that says where to put the files by hand.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TwinshotError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { OMNIGLOT_FILES, OMNIGLOT_RUNS, omniglotDownloadDir } from './omniglot.js';

export interface DownloadTarget {
  url: string;
  /** File name in the destination folder. */
  file: string;
  /** Expected MD5 (hex); omitted when the publisher gives none. */
  md5?: string;
}

export interface DownloadOptions {
  /** Destination folder (default: `<cache>/omniglot`). */
  dir?: string;
  /** Download again even when a file with the right checksum is there. */
  force?: boolean;
  /** Also fetch the 20 one-shot runs (all_runs.zip). */
  runs?: boolean;
  /** Bytes received so far and the total (null when the server does not say). */
  onProgress?: (file: string, received: number, total: number | null) => void;
  /** Abort when no data arrives for this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Replaces global fetch (tests). */
  fetch?: typeof fetch;
}

export interface DownloadResult {
  file: string;
  path: string;
  bytes: number;
  md5: string;
  /** 'downloaded', 'present' (right checksum already there) or 'kept' (a file with another checksum left alone). */
  status: 'downloaded' | 'present' | 'kept';
}

function md5Of(bytes: Uint8Array): string {
  return crypto.createHash('md5').update(bytes).digest('hex');
}

function offlineHelp(target: DownloadTarget, dir: string): string {
  return `download ${target.url} by hand and put it in ${dir} as ${target.file}, or set TWINSHOT_OMNIGLOT to a folder that holds it`;
}

/**
 * Fetches one file into `dir` atomically, checking its MD5 when one is known.
 * @throws TwinshotError ERR_DATASET when the server cannot be reached, answers with an error, the
 *   transfer stalls, or the checksum does not match (nothing is written then)
 */
export async function downloadFile(
  target: DownloadTarget,
  dir: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const dest = path.join(dir, target.file);
  if (!options.force && fs.existsSync(dest)) {
    const existing = fs.readFileSync(dest);
    const md5 = md5Of(existing);
    const status = target.md5 === undefined || md5 === target.md5 ? 'present' : 'kept';
    return { file: target.file, path: dest, bytes: existing.length, md5, status };
  }
  const doFetch = options.fetch ?? fetch;
  const controller = new AbortController();
  const idleMs = options.idleTimeoutMs ?? 30_000;
  let timer = setTimeout(() => controller.abort(), idleMs);
  const chunks: Uint8Array[] = [];
  let received = 0;
  try {
    let response: Response;
    try {
      response = await doFetch(target.url, { signal: controller.signal, redirect: 'follow' });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new TwinshotError(
        'ERR_DATASET',
        `could not reach ${new URL(target.url).host} (${reason}); ${offlineHelp(target, dir)}`,
        { cause: error },
      );
    }
    if (!response.ok || response.body === null) {
      throw new TwinshotError(
        'ERR_DATASET',
        `${target.url} answered HTTP ${response.status} ${response.statusText}; ${offlineHelp(target, dir)}`,
      );
    }
    const header = Number(response.headers.get('content-length'));
    const total = Number.isFinite(header) && header > 0 ? header : null;
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), idleMs);
      chunks.push(value);
      received += value.byteLength;
      options.onProgress?.(target.file, received, total);
    }
    if (total !== null && received !== total) {
      throw new TwinshotError(
        'ERR_DATASET',
        `${target.url}: the transfer ended after ${received} of ${total} bytes; run the command again`,
      );
    }
  } catch (error) {
    if (error instanceof TwinshotError) throw error;
    const stalled = controller.signal.aborted;
    throw new TwinshotError(
      'ERR_DATASET',
      `${target.url}: ${stalled ? `no data for ${idleMs / 1000} s` : (error as Error).message} after ${received} bytes; run the command again, or ${offlineHelp(target, dir)}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
  const bytes = Buffer.concat(chunks);
  const md5 = md5Of(bytes);
  if (target.md5 !== undefined && md5 !== target.md5) {
    throw new TwinshotError(
      'ERR_DATASET',
      `${target.file} from ${target.url} has MD5 ${md5}, expected ${target.md5}: the download is damaged or the file changed upstream; nothing was written. Retry, or ${offlineHelp(target, dir)}`,
    );
  }
  writeFileAtomic(dest, bytes);
  return { file: target.file, path: dest, bytes: bytes.length, md5, status: 'downloaded' };
}

/** The files `twinshot data omniglot` fetches. */
export function omniglotTargets(runs = false): DownloadTarget[] {
  const targets: DownloadTarget[] = Object.values(OMNIGLOT_FILES).map((f) => ({
    url: f.url,
    file: f.file,
    md5: f.md5,
  }));
  if (runs) targets.push({ url: OMNIGLOT_RUNS.url, file: OMNIGLOT_RUNS.file });
  return targets;
}

/**
 * Downloads images_background.zip and images_evaluation.zip (and, with `runs`, all_runs.zip) from
 * github.com/brendenlake/omniglot into `dir`, skipping files already there with the right checksum.
 * @throws TwinshotError ERR_DATASET as {@link downloadFile} does
 */
export async function downloadOmniglot(
  options: DownloadOptions = {},
): Promise<{ dir: string; files: DownloadResult[] }> {
  const dir = path.resolve(options.dir ?? omniglotDownloadDir());
  fs.mkdirSync(dir, { recursive: true });
  const files: DownloadResult[] = [];
  for (const target of omniglotTargets(options.runs)) files.push(await downloadFile(target, dir, options));
  return { dir, files };
}
