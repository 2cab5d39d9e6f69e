// `npm run bench -- distributed [--seconds S] [--rounds N] [--config FILE] [--json]`: data-parallel
// training on this machine against one process, in alternating rounds to share the noise.
// (a) `twinshot train` on the recipe (default configs/omniglot-fast.json) for S seconds (default
//     60) each: one process of 2 threads, then `--nproc-per-node 2` with 1 thread per rank; images/s
//     of the whole job after a warm-up, their ratio, and the share of each step rank 0 spent in
//     the gradients' all-reduce (including waiting for the other rank);
// (b) the all-reduce alone: two ranks average gradients shaped like the recipe's network, back to
//     back (milliseconds per step), and the bytes each step moves.
// The recipe's validation is turned off (data.validationGroups=0), so only training is timed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModel } from '../src/models/factory.js';
import { loadConfig } from '../src/training/config.js';
import { DataParallel, initProcessGroup, destroyProcessGroup, barrier } from '../src/distributed/index.js';
import { randn, tidy } from '../src/engine/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => (args.includes(name) ? args[args.indexOf(name) + 1]! : fallback);
const asJson = args.includes('--json');
const seconds = Number(option('--seconds', '60'));
const rounds = Number(option('--rounds', '2'));
const configFile = option('--config', path.join(root, 'configs/omniglot-fast.json'));
const loader = ['--import', `file://${path.join(root, 'node_modules/tsx/dist/loader.mjs')}`];
const cli = path.join(root, 'test/service/run-cli.ts');

/** Averages gradients shaped like the recipe's network, `count` times after a barrier (run as a rank). */
async function allReduceWorker(): Promise<void> {
  const config = loadConfig(configFile);
  const model = buildModel(config.model, config.data.size);
  const group = await initProcessGroup({ backend: 'gloo', initMethod: 'env://', timeoutMs: 120_000 });
  for (const p of model.parameters()) p.grad = tidy(() => randn(p.shape));
  const parallel = new DataParallel(model, group);
  const time = async (count: number) => {
    await barrier();
    const started = performance.now();
    for (let i = 0; i < count; i++) await parallel.averageGradients();
    return (performance.now() - started) / count;
  };
  await time(20); // warm-up
  const ms = await time(200);
  const bytes = model.parameters().reduce((total, p) => total + 4 * p.numel(), 0);
  if (group.rank === 0) process.stdout.write(`${JSON.stringify({ ms, bytes, parameters: bytes / 4 })}\n`);
  await barrier();
  destroyProcessGroup();
}

function run(command: string, commandArgs: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { cwd: root, env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${commandArgs.join(' ')} failed:\n${out}`)),
    );
  });
}

interface Side {
  imagesPerSecond: number;
  communicationShare?: number;
}

/** Trains the recipe for `seconds` and reads its speed after the first fifth (warm-up) from metrics.jsonl. */
async function trainSide(ranks: number): Promise<Side> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-bench-dist-'));
  try {
    const launch = ranks > 1 ? ['--nproc-per-node', String(ranks)] : [];
    await run(
      process.execPath,
      [
        ...loader,
        cli,
        'train',
        '--config',
        configFile,
        '--out',
        out,
        ...launch,
        '--set',
        `training.timeLimitMinutes=${seconds / 60}`,
        'data.validationGroups=0',
        'training.logEvery=5',
        'training.checkpointEvery=1000000',
        'training.steps=1000000',
      ],
      { TWINSHOT_NUM_THREADS: ranks > 1 ? '1' : '2' },
    );
    const records = fs
      .readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number>)
      .filter((r) => (r.kind as unknown as string) === 'train');
    const end = records.at(-1)!.seconds!;
    let images = 0;
    let time = 0;
    let communication = 0;
    // Windows that start after the first fifth of the run (or after the first window, on a short run).
    const warm = records.findIndex((r) => r.seconds! >= end / 5);
    const from = Math.max(1, Math.min(warm, records.length - 2));
    for (let i = from; i < records.length; i++) {
      const r = records[i]!;
      const duration = r.seconds! - records[i - 1]!.seconds!;
      images += r.imagesPerSecond! * duration;
      time += duration;
      communication += (r.communicationShare ?? 0) * duration;
    }
    if (time === 0)
      throw new Error(`${ranks} rank(s) logged too few steps in ${seconds} s to measure; raise --seconds`);
    return { imagesPerSecond: images / time, ...(ranks > 1 ? { communicationShare: communication / time } : {}) };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

async function allReduceAlone(): Promise<{ ms: number; bytes: number; parameters: number }> {
  const port = String(29000 + Math.floor(Math.random() * 1000));
  const worker = (rank: number) =>
    run(process.execPath, [...loader, fileURLToPath(import.meta.url), '--allreduce-worker', '--config', configFile], {
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: port,
      RANK: String(rank),
      WORLD_SIZE: '2',
      TWINSHOT_NUM_THREADS: '1',
    });
  const [out] = await Promise.all([worker(0), worker(1)]);
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (args.includes('--allreduce-worker')) {
  await allReduceWorker();
} else {
  const single: Side[] = [];
  const parallel: Side[] = [];
  for (let round = 0; round < rounds; round++) {
    single.push(await trainSide(1));
    parallel.push(await trainSide(2));
    if (!asJson)
      console.error(
        `round ${round + 1}: 1 process x 2 threads ${single.at(-1)!.imagesPerSecond.toFixed(0)} images/s, 2 ranks x 1 thread ${parallel.at(-1)!.imagesPerSecond.toFixed(0)} images/s`,
      );
  }
  const alone = await allReduceAlone();
  const one = median(single.map((s) => s.imagesPerSecond));
  const two = median(parallel.map((s) => s.imagesPerSecond));
  const share = median(parallel.map((s) => s.communicationShare ?? 0));
  const config = loadConfig(configFile);
  const perRankImages =
    config.sampler.kind === 'episodes'
      ? config.sampler.way * (config.sampler.shot + config.sampler.query)
      : config.sampler.kind === 'pk'
        ? config.sampler.classes * config.sampler.perClass
        : 2 * config.sampler.batchSize;
  const stepMs = (1000 * perRankImages) / (two / 2);
  const result = {
    config: path.relative(root, configFile),
    seconds,
    rounds,
    singleProcessImagesPerSecond: one,
    twoRanksImagesPerSecond: two,
    ratio: two / one,
    allReduceShareOfStep: share,
    allReduceAloneMs: alone.ms,
    allReduceAloneShareOfStep: alone.ms / stepMs,
    stepMsPerRank: stepMs,
    parameters: alone.parameters,
    gradientBytesPerStep: alone.bytes,
    // A ring all-reduce sends (and receives) 2 (N - 1) / N times the buffer per rank.
    sentBytesPerRankPerStep: (2 * (2 - 1) * alone.bytes) / 2,
  };
  if (asJson) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`${result.config}, ${seconds} s per side, median of ${rounds} alternating rounds:`);
    console.log(`  1 process x 2 threads: ${one.toFixed(0)} images/s`);
    console.log(`  2 ranks x 1 thread:    ${two.toFixed(0)} images/s   ratio ${result.ratio.toFixed(2)}`);
    console.log(
      `  rank 0 in the all-reduce (waiting for the other rank included): ${(100 * share).toFixed(1)}% of its time`,
    );
    console.log(
      `  the all-reduce alone: ${alone.ms.toFixed(2)} ms per step (${(100 * result.allReduceAloneShareOfStep).toFixed(1)}% of a ${stepMs.toFixed(0)} ms step), ${alone.parameters.toLocaleString('en')} parameters = ${(alone.bytes / 1024).toFixed(0)} KiB of gradients`,
    );
  }
}
