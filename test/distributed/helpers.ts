// Starting real rank processes on loopback for the distributed tests.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(import.meta.dirname, '../..');
// Node runs the TypeScript sources through tsx's loader, in one process (tsx's CLI would add a
// parent process between the test and the rank, hiding the rank's signals).
export const NODE_TS = ['--import', pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href];
export const WORKER = path.join(root, 'test/distributed/worker.ts');
export const CLI = path.join(root, 'test/service/run-cli.ts');

/** A TCP port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  seconds: number;
}

export interface Started {
  child: ChildProcess;
  finished: Promise<Finished>;
  /** What it has written so far (stdout and stderr). */
  output: () => string;
}

/** Starts `command args` with its output collected; `finished` settles when it exits. */
export function start(command: string, args: string[], env: Record<string, string> = {}): Started {
  const started = Date.now();
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, TWINSHOT_NUM_THREADS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const finished = new Promise<Finished>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, output, seconds: (Date.now() - started) / 1000 })),
  );
  return { child, finished, output: () => output };
}

/** The environment of rank `rank` of `worldSize` meeting at 127.0.0.1:port, as a launcher sets it. */
export function rankEnv(rank: number, worldSize: number, port: number): Record<string, string> {
  return {
    MASTER_ADDR: '127.0.0.1',
    MASTER_PORT: String(port),
    RANK: String(rank),
    WORLD_SIZE: String(worldSize),
    LOCAL_RANK: String(rank),
  };
}

/** Runs test/distributed/worker.ts SCENARIO OUT as `worldSize` ranks. */
export function startRanks(
  scenario: string,
  outDir: string,
  worldSize: number,
  port: number,
  env: Record<string, string> = {},
): Started[] {
  return Array.from({ length: worldSize }, (_, rank) =>
    start(process.execPath, [...NODE_TS, WORKER, scenario, outDir], { ...rankEnv(rank, worldSize, port), ...env }),
  );
}

/** Fails with every rank's output when one did not exit cleanly. */
export async function allSucceed(ranks: Started[]): Promise<Finished[]> {
  const results = await Promise.all(ranks.map((r) => r.finished));
  const failed = results.filter((r) => r.code !== 0);
  if (failed.length > 0) {
    throw new Error(results.map((r, rank) => `rank ${rank}: exit ${r.code ?? r.signal}\n${r.output}`).join('\n---\n'));
  }
  return results;
}
