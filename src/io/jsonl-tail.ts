// Following a JSON-lines file that another process appends to (a training run's metrics log):
// complete lines only, damaged lines skipped, and a replaced or shortened file read from the start.
import fs from 'node:fs';

/**
 * Parses complete JSONL lines into the values `accept` takes; other lines (damaged, foreign, or
 * cut by a crash) are skipped.
 */
export function parseJsonLines<T>(lines: readonly string[], accept: (value: unknown) => value is T): T[] {
  const out: T[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (accept(value)) out.push(value);
    } catch {
      // a partial or damaged line: the file is appended to by another process
    }
  }
  return out;
}

/**
 * Follows a growing JSONL file by polling its size (fs.watch misses changes on some file systems
 * and over network mounts). A file replaced or shortened (a resumed run truncates its log by
 * atomic rename) starts over: `reset` carries every record again.
 */
export class JsonlTail<T> {
  #offset = 0;
  #ino = -1;
  #partial = '';

  constructor(
    readonly file: string,
    readonly accept: (value: unknown) => value is T,
  ) {}

  /** New records since the last call, and whether the file was replaced (then: all of its records). */
  async poll(): Promise<{ reset: boolean; records: T[] }> {
    let stat: fs.Stats;
    try {
      stat = await fs.promises.stat(this.file);
    } catch {
      const reset = this.#offset > 0;
      this.#offset = 0;
      this.#ino = -1;
      this.#partial = '';
      return { reset, records: [] };
    }
    let reset = false;
    if (stat.ino !== this.#ino || stat.size < this.#offset) {
      reset = this.#ino !== -1;
      this.#ino = stat.ino;
      this.#offset = 0;
      this.#partial = '';
    }
    if (stat.size === this.#offset) return { reset, records: [] };
    const handle = await fs.promises.open(this.file, 'r');
    try {
      const length = stat.size - this.#offset;
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, this.#offset);
      this.#offset += bytesRead;
      const text = this.#partial + buffer.subarray(0, bytesRead).toString('utf8');
      const lines = text.split('\n');
      // The writer may be mid-line: keep the unterminated tail for the next poll.
      this.#partial = lines.pop() ?? '';
      return { reset, records: parseJsonLines(lines, this.accept) };
    } finally {
      await handle.close();
    }
  }
}
