// Crash-safe file writes: write a sibling temp file, fsync it, then rename over the target,
// so a reader (or a restart after SIGKILL or a full disk) sees the old file or the new one, never half.
import fs from 'node:fs';
import path from 'node:path';
import { TwinshotError } from '../errors.js';

export function writeFileAtomic(target: string, data: Uint8Array | string): void {
  const dir = path.dirname(target);
  fs.mkdirSync(dir, { recursive: true });
  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, 'w');
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, target);
    syncDirectory(dir);
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'ENOSPC' ? ' (the disk is full: free space and retry; the previous file is intact)' : '';
    throw new TwinshotError('ERR_STORE', `could not write ${target}: ${(error as Error).message}${hint}`, {
      cause: error,
    });
  }
}

function syncDirectory(dir: string): void {
  // Makes the rename itself durable; not supported on every platform, so best effort.
  try {
    const fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch {
    // ignore
  }
}
