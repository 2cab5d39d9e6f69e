// Durability: the real server process, killed with SIGKILL in the middle of a stream of
// enrolments and restarted, still has every enrolment it answered with success, on every store
// (SQLite on its HNSW path: the gallery outgrows exact search mid-stream, so the index file is
// written, then caught up after the kill).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SQLITE_HNSW_CASE, STORE_CASES, drawSymbol } from '../gallery/helpers.js';
import { POSTGRES, reportIfMissing } from '../helpers/prerequisites.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'test/service/run-cli.ts');

interface Server {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Spawns `twinshot serve` on a free port and waits for its "listening on" line. */
function startServer(storeUrl: string): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      cli,
      'serve',
      '--model',
      'pixels',
      '--store',
      storeUrl,
      '--port',
      '0',
      '--log-level',
      'warn',
      '--rate-limit',
      '0',
    ],
    { cwd: root, env: { ...process.env, TWINSHOT_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${output}`)), 60_000);
    const onData = (data: Buffer): void => {
      output += data.toString();
      const match = /listening on (http:\/\/\S+?)[ ,]/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

reportIfMissing(POSTGRES, 'twinshot serve on PostgreSQL, killed mid-stream');

const cases = STORE_CASES.map((c) => (c.name === 'sqlite' ? SQLITE_HNSW_CASE : c));

describe.each(cases)('twinshot serve on $name, killed mid-stream', (storeCase) => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('still has every enrolment it answered with success after SIGKILL and restart', async () => {
    const handle = await storeCase.open();
    try {
      const first = await startServer(handle.url);
      children.push(first.child);
      expect((await fetch(`${first.url}/v1/galleries/durable`, { method: 'PUT' })).status).toBe(201);
      const body = JSON.stringify({ image: (await drawSymbol('spiral')).toString('base64') });
      const confirmed: string[] = [];
      const failed: string[] = [];
      let next = 0;
      let killed = false;
      // Four concurrent writers stream enrolments until the kill cuts them off.
      const writer = async (): Promise<void> => {
        while (!killed) {
          const label = `class-${next++}`;
          try {
            const response = await fetch(`${first.url}/v1/galleries/durable/classes/${label}/examples`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
            });
            if (response.status === 201) confirmed.push(label);
            else failed.push(`${label}: ${response.status}`);
          } catch {
            failed.push(label); // connection refused or reset: not confirmed, may or may not be stored
            return;
          }
        }
      };
      const writers = Array.from({ length: 4 }, writer);
      while (confirmed.length < 60) await new Promise((resolve) => setTimeout(resolve, 5));
      killed = true;
      first.child.kill('SIGKILL');
      await Promise.all(writers);
      await exited(first.child);
      expect(first.child.signalCode).toBe('SIGKILL');
      // Requests were still arriving when the process died.
      expect(confirmed.length + failed.length).toBeGreaterThan(60);

      const second = await startServer(handle.url);
      children.push(second.child);
      const classes = (await (await fetch(`${second.url}/v1/galleries/durable/classes`)).json()) as {
        classes: { label: string }[];
      };
      const stored = new Set(classes.classes.map((c) => c.label));
      const lost = confirmed.filter((label) => !stored.has(label));
      expect(lost).toEqual([]);
      // And the restarted server searches them.
      const identify = await fetch(`${second.url}/v1/galleries/durable/identify?k=3`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(((await identify.json()) as { matches: unknown[] }).matches).toHaveLength(3);
      second.child.kill('SIGTERM');
      await exited(second.child);
      expect(second.child.exitCode).toBe(0);
    } finally {
      await handle.cleanup();
    }
  }, 120_000);
});
