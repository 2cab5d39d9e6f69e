// Data-parallel training through the launcher, with real rank processes on loopback (one thread
// each) and a small synthetic Omniglot: exact resumption of the whole group, a killed or hung rank
// stopping the job with an error that names it, and Ctrl-C stopping every rank after a checkpoint.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFile } from '../../src/io/safetensors.js';
import { loadConfig } from '../../src/training/config.js';
import { train as trainInProcess } from '../../src/training/trainer.js';
import { omniglotEntries, writeZip } from '../data/helpers.js';
import { CLI, NODE_TS, freePort, start, type Started } from '../distributed/helpers.js';
import { withoutLaunchOptions } from '../../src/cli/launch.js';

let root: string;
let dataDir: string;
const runs: Started[] = [];

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-dp-'));
  dataDir = path.join(root, 'omniglot');
  fs.mkdirSync(dataDir);
  // Four alphabets of six characters, six drawers each.
  writeZip(
    path.join(dataDir, 'images_background.zip'),
    omniglotEntries([6, 6, 6, 6], 6, 'images_background', { size: 28 }),
  );
});
afterAll(() => {
  for (const run of runs) run.child.kill('SIGKILL');
  fs.rmSync(root, { recursive: true, force: true });
});

function writeConfig(name: string, training: Record<string, unknown>): string {
  const file = path.join(root, `${name}.json`);
  const config = {
    name,
    seed: 5,
    data: { size: 28, validationGroups: 0, path: dataDir },
    model: { kind: 'embedding', channels: [8, 8] },
    loss: { kind: 'prototypical' },
    sampler: { kind: 'episodes', way: 4, shot: 1, query: 2, withinGroup: true },
    // Distortions draw from each rank's own stream too.
    augment: { probability: 0.5, elastic: { magnitude: 10 } },
    optimizer: { kind: 'adam', lr: 0.003, schedule: { kind: 'constant' } },
    training: {
      steps: 6,
      epochSteps: 10,
      validateEvery: 1000,
      validationTrials: 20,
      checkpointEvery: 3,
      logEvery: 1,
      ...training,
    },
  };
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

/** `twinshot train ARGS` from the sources, as a launcher would be run. */
function train(args: string[], env: Record<string, string> = {}): Started {
  const run = start(process.execPath, [...NODE_TS, CLI, 'train', ...args], {
    TWINSHOT_CACHE: path.join(root, 'cache'),
    ...env,
  });
  runs.push(run);
  return run;
}

async function succeeded(run: Started): Promise<string> {
  const result = await run.finished;
  if (result.code !== 0) throw new Error(`exit ${result.code ?? result.signal}:\n${result.output}`);
  return result.output;
}

/** The match of `pattern` in the run's output, as soon as it appears. */
async function waitFor(run: Started, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void run.finished.then(() => (exited = true));
  for (;;) {
    const match = run.output().match(pattern);
    if (match) return match;
    if (exited) throw new Error(`exited before ${pattern}:\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} after ${timeoutMs} ms:\n${run.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('twinshot train --nproc-per-node 2', () => {
  it('resumes the whole group exactly: 3 + 3 steps on two ranks equal 6 uninterrupted steps', async () => {
    const config = writeConfig('resume', {});
    const straight = path.join(root, 'straight');
    const split = path.join(root, 'split');
    const output = await succeeded(train(['--config', config, '--out', straight, '--nproc-per-node', '2']));
    expect(output).toMatch(/starting ranks 0-1 of 2 on this node \(1 thread each\)/);
    expect(output).toMatch(/data-parallel on 2 ranks \(gloo\)/);
    await succeeded(train(['--config', config, '--out', split, '--steps', '3', '--nproc-per-node', '2']));
    const saved = JSON.parse(loadFile(path.join(split, 'checkpoint.safetensors')).metadata.twinshot!).progress;
    expect(saved.step).toBe(3);
    expect(saved.worldSize).toBe(2);
    // Each rank drew from its own stream; rank 0's is the single-process one.
    expect(saved.ranks[0].sampler).toEqual(saved.sampler);
    expect(saved.ranks[1].sampler.rng).not.toEqual(saved.ranks[0].sampler.rng);
    expect(saved.ranks[1].augmentRng).not.toEqual(saved.ranks[0].augmentRng);
    await succeeded(train(['--config', config, '--out', split, '--resume', '--nproc-per-node', '2']));
    expect(fs.readFileSync(path.join(split, 'model.safetensors'))).toEqual(
      fs.readFileSync(path.join(straight, 'model.safetensors')),
    );
    // Another number of ranks cannot continue those streams, nor can a single process.
    await expect(
      trainInProcess({ config: loadConfig(config), outDir: split, resume: true, log: () => {} }),
    ).rejects.toThrow(/was written by 2 ranks, and this run has 1; resume with the same number of ranks/);
  }, 120_000);

  it('runs as two "machines" (two launchers, --nnodes 2) meeting at one master', async () => {
    const config = writeConfig('nodes', { steps: 4 });
    const port = String(await freePort());
    const node = (rank: number) =>
      train([
        ...['--config', config, '--out', path.join(root, `nodes${rank}`), '--nproc-per-node', '1', '--nnodes', '2'],
        ...['--node-rank', String(rank), '--master-addr', '127.0.0.1', '--master-port', port],
      ]);
    const [first, second] = await Promise.all([succeeded(node(0)), succeeded(node(1))]);
    expect(first).toMatch(/starting ranks 0-0 of 2 on this node/);
    expect(second).toMatch(/starting ranks 1-1 of 2 on this node/);
    expect(first).toMatch(/data-parallel on 2 ranks[\s\S]*finished at step 4/);
    // Only rank 0 writes a run folder.
    expect(fs.existsSync(path.join(root, 'nodes0', 'model.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'nodes1'))).toBe(false);
    expect(withoutLaunchOptions(['-c', 'a.json', '--nproc-per-node', '2', '--master-port=7', '--steps', '3'])).toEqual([
      '-c',
      'a.json',
      '--steps',
      '3',
    ]);
  }, 90_000);

  it('a rank killed with SIGKILL stops the job at once, with an error naming it', async () => {
    const config = writeConfig('killed', { steps: 100_000 });
    const run = train([
      '--config',
      config,
      '--out',
      path.join(root, 'killed'),
      '--nproc-per-node',
      '2',
      '--timeout',
      '60',
    ]);
    const [, pid] = await waitFor(run, /rank 1 is pid (\d+)/);
    await waitFor(run, /step 3\/100000/);
    process.kill(Number(pid), 'SIGKILL');
    const result = await run.finished;
    expect(result.code).toBe(1);
    expect(result.output).toContain(`training failed: rank 1 (pid ${pid}) was killed by SIGKILL`);
    // Well within the 60 s timeout: the peer's connection closed.
    expect(result.seconds).toBeLessThan(45);
  }, 90_000);

  it('a rank that hangs stops the job after --timeout, named as the one that stopped responding', async () => {
    const config = writeConfig('hung', { steps: 100_000 });
    const run = train([
      '--config',
      config,
      '--out',
      path.join(root, 'hung'),
      '--nproc-per-node',
      '2',
      '--timeout',
      '3',
    ]);
    const [, pid] = await waitFor(run, /rank 1 is pid (\d+)/);
    await waitFor(run, /step 3\/100000/);
    const stopped = Date.now();
    process.kill(Number(pid), 'SIGSTOP');
    const result = await run.finished;
    expect(result.code).toBe(1);
    expect(result.output).toMatch(
      /training failed: rank 1 stopped responding \(killed after the other ranks timed out\); rank 0 \(pid \d+\) lost its peers: .*(timed out|timeout)/i,
    );
    // The timeout (3 s), then as long again for the ranks to stop by themselves.
    expect((Date.now() - stopped) / 1000).toBeLessThan(20);
  }, 90_000);

  it('Ctrl-C stops every rank after the same step and keeps the checkpoint', async () => {
    const config = writeConfig('interrupted', { steps: 100_000, checkpointEvery: 1000 });
    const out = path.join(root, 'interrupted');
    const run = train(['--config', config, '--out', out, '--nproc-per-node', '2']);
    await waitFor(run, /step 3\/100000/);
    run.child.kill('SIGINT');
    const output = await succeeded(run);
    expect(output).toMatch(/stopping every rank after this step/);
    expect(output).toMatch(/checkpoint saved; continue with: .* --resume and the same number of ranks \(2\)/);
    const saved = JSON.parse(loadFile(path.join(out, 'checkpoint.safetensors')).metadata.twinshot!).progress;
    expect(saved.step).toBeGreaterThanOrEqual(3);
    expect(saved.step).toBeLessThan(1000);
    expect(saved.ranks).toHaveLength(2);
  }, 90_000);
});
