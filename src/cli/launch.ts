// The launcher behind `twinshot train --nproc-per-node N`, like torchrun: starts this node's
// ranks with PyTorch's environment variables, relays their output, stops them all when one fails
// (naming it), and passes Ctrl-C on to every rank so that they stop together after a checkpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import readline from 'node:readline';
import { TwinshotError } from '../errors.js';

/** A rank exits with this code when a collective failed because of another rank. */
export const PEER_FAILURE_EXIT_CODE = 3;

/** After the first failure, ranks get this long (or the timeout, if shorter) to stop by themselves before they are killed. */
const GRACE_MS = 10_000;

export interface LaunchOptions {
  nprocPerNode: number;
  nnodes: number;
  nodeRank: number;
  masterAddr: string;
  /** Omitted on one node: a free port is chosen (like torchrun --standalone). */
  masterPort?: number;
  /** The ranks' timeout for collectives, in seconds. */
  timeoutSeconds: number;
  /** What each rank runs: the program and its arguments (without the launcher's options). */
  command: string;
  args: string[];
  log?: (line: string) => void;
}

/** The launcher's own options, which the ranks must not see again. */
const LAUNCH_FLAGS = ['--nproc-per-node', '--nnodes', '--node-rank', '--master-addr', '--master-port'];

/** `argv` without the launcher's options (as `--flag value` or `--flag=value`). */
export function withoutLaunchOptions(argv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (LAUNCH_FLAGS.includes(arg)) i++;
    else if (!LAUNCH_FLAGS.some((flag) => arg.startsWith(`${flag}=`))) kept.push(arg);
  }
  return kept;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Rank {
  rank: number;
  localRank: number;
  child: ChildProcess;
  /** The last lines it wrote to stderr, for the failure report. */
  errors: string[];
  exit?: { code: number | null; signal: NodeJS.Signals | null };
  /** The launcher asked it to stop (Ctrl-C, or another rank failed). */
  stopRequested?: boolean;
  /** It did not stop when asked, and was killed. */
  killedByLauncher?: boolean;
}

function describeExit(r: Rank): string {
  const how = r.exit?.signal
    ? `was killed by ${r.exit.signal}`
    : r.exit?.code === PEER_FAILURE_EXIT_CODE
      ? 'lost its peers'
      : `exited with code ${r.exit?.code}`;
  // Its error as the CLI printed it ("twinshot: ..." and the lines after), else its last line.
  const start = r.errors.findLastIndex((line) => line.startsWith('twinshot: '));
  const lines = start >= 0 ? r.errors.slice(start) : r.errors.filter((line) => /\S/.test(line)).slice(-1);
  const error = lines.join('\n').replace(/^twinshot: /, '');
  return `rank ${r.rank} (pid ${r.child.pid}) ${how}${error && !r.exit?.signal ? `: ${error}` : ''}`;
}

/**
 * Runs this node's ranks until they all exit. Resolves when every rank succeeded.
 * @throws TwinshotError ERR_DISTRIBUTED naming the rank that failed first (or stopped responding)
 */
export async function launch(options: LaunchOptions): Promise<void> {
  const log = options.log ?? ((line: string) => console.error(line));
  const { nprocPerNode, nnodes, nodeRank, masterAddr } = options;
  const worldSize = nprocPerNode * nnodes;
  const masterPort = options.masterPort ?? (await freePort());
  // Share the cores between this node's ranks unless told otherwise (torchrun sets one thread).
  const threads =
    process.env.TWINSHOT_NUM_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / nprocPerNode)));
  const first = nodeRank * nprocPerNode;
  log(
    `twinshot: starting ranks ${first}-${first + nprocPerNode - 1} of ${worldSize} on this node (${threads} thread${threads === '1' ? '' : 's'} each), rendezvous at ${masterAddr}:${masterPort}`,
  );

  const ranks: Rank[] = [];
  for (let localRank = 0; localRank < nprocPerNode; localRank++) {
    const rank = first + localRank;
    const child = spawn(options.command, options.args, {
      env: {
        ...process.env,
        MASTER_ADDR: masterAddr,
        MASTER_PORT: String(masterPort),
        WORLD_SIZE: String(worldSize),
        RANK: String(rank),
        LOCAL_RANK: String(localRank),
        LOCAL_WORLD_SIZE: String(nprocPerNode),
        GROUP_RANK: String(nodeRank),
        TWINSHOT_NUM_THREADS: threads,
      },
      // Rank 0 keeps the terminal (its progress bar); the others' lines are prefixed. The IPC
      // channel lets a rank notice that its launcher is gone. Each rank has its own process
      // group, so that Ctrl-C reaches it once, through the launcher.
      stdio: ['ignore', rank === 0 ? 'inherit' : 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    const entry: Rank = { rank, localRank, child, errors: [] };
    ranks.push(entry);
    if (child.stdout) {
      readline.createInterface({ input: child.stdout }).on('line', (line) => console.log(`[rank ${rank}] ${line}`));
    }
    readline.createInterface({ input: child.stderr! }).on('line', (line) => {
      process.stderr.write(`[rank ${rank}] ${line}\n`);
      entry.errors.push(line);
      if (entry.errors.length > 20) entry.errors.shift();
    });
    log(`twinshot: rank ${rank} is pid ${child.pid}`);
  }

  const alive = () => ranks.filter((r) => r.exit === undefined);
  let failure: Rank | undefined;
  let interrupts = 0;
  let killTimer: NodeJS.Timeout | undefined;

  const signalAll = (signal: NodeJS.Signals) => {
    for (const r of alive()) {
      r.stopRequested = true;
      if (signal === 'SIGKILL') r.killedByLauncher = true;
      r.child.kill(signal);
    }
  };
  const onInterrupt = () => {
    interrupts++;
    if (interrupts === 1) {
      log('\ntwinshot: stopping every rank after this step and saving a checkpoint (Ctrl-C again to quit now)');
      signalAll('SIGINT');
    } else {
      signalAll('SIGKILL');
    }
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);

  try {
    await new Promise<void>((resolve) => {
      for (const r of ranks) {
        r.child.on('close', (code, signal) => {
          r.exit = { code, signal };
          // Killed by a signal the launcher sent is not a failure of its own.
          const failed = signal !== null ? !r.stopRequested : code !== 0;
          if (failed && failure === undefined) {
            failure = r;
            if (alive().length > 0) {
              log(`twinshot: ${describeExit(r)}; stopping the other ranks`);
              signalAll('SIGTERM');
              // A rank that ignores SIGTERM is stuck (in a collective, or hung): kill it.
              killTimer = setTimeout(() => signalAll('SIGKILL'), Math.min(GRACE_MS, options.timeoutSeconds * 1000));
            }
          }
          if (alive().length === 0) resolve();
        });
      }
    });
  } finally {
    clearTimeout(killTimer);
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
  }

  if (failure === undefined) {
    if (interrupts > 1)
      throw Object.assign(new TwinshotError('ERR_DISTRIBUTED', 'stopped by a second Ctrl-C'), { exitCode: 130 });
    return;
  }
  // The cause, rather than its consequences: a rank that failed by itself, else one that hung
  // (it outlived the others' timeouts and had to be killed), else the first to fail.
  const own = ranks.find(
    (r) =>
      r.exit !== undefined &&
      (r.exit.signal !== null ? !r.stopRequested : r.exit.code !== 0 && r.exit.code !== PEER_FAILURE_EXIT_CODE),
  );
  const hung = ranks.filter((r) => r.killedByLauncher);
  let message: string;
  if (own) message = describeExit(own);
  else if (hung.length > 0 && failure.exit?.code === PEER_FAILURE_EXIT_CODE)
    message = `rank ${hung.map((r) => r.rank).join(', ')} stopped responding (killed after the other ranks timed out); ${describeExit(failure)}`;
  else message = describeExit(failure);
  throw new TwinshotError('ERR_DISTRIBUTED', `training failed: ${message}`);
}
