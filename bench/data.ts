// `npm run bench -- data [--json] [--seconds S] [--threads N] [--skip-load]`: the data pipeline's throughput — Omniglot
// load time (decoded, then from the cache) and batches/s of each sampler + Koch et al.'s affine
// distortions at batch 128, on 105x105 and 28x28 images — beside one reference training step.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { arange, getNumThreads, manualSeed, rand, setNumThreads, tidy, engineInfo } from '../src/engine/index.js';
import { conv4ReferenceNet } from './reference-nets.js';
import * as F from '../src/nn/functional.js';
import { SGD } from '../src/optim/sgd.js';
import { loadOmniglot, locateOmniglot } from '../src/data/omniglot.js';
import type { ImageSet } from '../src/data/dataset.js';
import { RandomAffine } from '../src/data/augment.js';
import { Rng } from '../src/data/random.js';
import { EpisodeSampler, PKSampler, PairSampler } from '../src/data/samplers.js';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 1) || 1;
const skipLoad = args.includes('--skip-load');
const threads = args.includes('--threads') ? Number(args[args.indexOf('--threads') + 1]) : undefined;
if (threads !== undefined) setNumThreads(threads);
const log = (line: string): void => {
  if (!asJson) console.error(line);
};

// ---- load times -------------------------------------------------------------------------------

interface LoadResult {
  size: number;
  images: number;
  decodedSeconds: number;
  cachedSeconds: number;
}

async function loadTimes(source: string, size: number): Promise<{ result: LoadResult; set: ImageSet }> {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-bench-cache-'));
  try {
    let start = performance.now();
    const decoded = await loadOmniglot({ source, split: 'all', size, cache });
    const decodedSeconds = (performance.now() - start) / 1000;
    decoded.dispose();
    start = performance.now();
    const cached = await loadOmniglot({ source, split: 'all', size, cache });
    const cachedSeconds = (performance.now() - start) / 1000;
    log(
      `  Omniglot ${cached.size} images at ${size}x${size}: ${decodedSeconds.toFixed(2)} s decoded, ${cachedSeconds.toFixed(2)} s cached`,
    );
    return { result: { size, images: cached.size, decodedSeconds, cachedSeconds }, set: cached };
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
}

// ---- samplers ---------------------------------------------------------------------------------

interface Pipeline {
  name: string;
  /** Images a batch holds (a pair counts two). */
  images: number;
  /** Draws indices and returns every image index of the batch. */
  sample(): ArrayLike<number>[];
}

const sides = (batch: { left: Int32Array; right: Int32Array }): Int32Array[] => [batch.left, batch.right];

function pipelines(set: ImageSet): Pipeline[] {
  const pairs = new PairSampler(set, { batchSize: 128, seed: 1 });
  const hardPairs = new PairSampler(set, { batchSize: 128, seed: 1, sameGroupNegatives: true });
  const pk = new PKSampler(set, { p: 32, k: 4, seed: 1 });
  const episodes = new EpisodeSampler(set, { way: 16, shot: 1, query: 7, seed: 1, withinGroup: true });
  return [
    { name: 'pairs', images: 256, sample: () => sides(pairs.next()) },
    { name: 'pairs-same-alphabet', images: 256, sample: () => sides(hardPairs.next()) },
    { name: 'pk-32x4', images: 128, sample: () => [pk.next().indices] },
    {
      name: 'episode-16way-1shot-7query',
      images: 128,
      sample: () => {
        const e = episodes.next();
        return [e.support, e.query];
      },
    },
  ];
}

/** Calls per second: the median of five windows, after a warm-up (JIT, allocator settling). */
function rate(fn: () => void, budgetSeconds: number): number {
  const warm = performance.now();
  for (let i = 0; i < 3 || performance.now() - warm < 200; i++) fn();
  const windows: number[] = [];
  for (let w = 0; w < 5; w++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < (budgetSeconds * 1000) / 5) {
      fn();
      n++;
    }
    windows.push(n / ((performance.now() - start) / 1000));
  }
  return windows.sort((a, b) => a - b)[2]!;
}

interface SamplerResult {
  size: number;
  sampler: string;
  imagesPerBatch: number;
  indicesPerSec: number;
  batchesPerSec: number;
  augmentedBatchesPerSec: number;
}

function samplerRates(set: ImageSet): SamplerResult[] {
  const augment = new RandomAffine();
  const rng = new Rng(1);
  return pipelines(set).map((p) => {
    const indicesPerSec = rate(() => void p.sample(), seconds / 2);
    const batchesPerSec = rate(() => tidy(() => void p.sample().map((indices) => set.batch(indices))), seconds);
    const augmentedBatchesPerSec = rate(
      () => tidy(() => void p.sample().map((indices) => augment.apply(set.batch(indices), rng))),
      seconds,
    );
    log(
      `  ${set.imageSize}x${set.imageSize} ${p.name.padEnd(28)} indices ${indicesPerSec.toFixed(0).padStart(7)}/s  batches ${batchesPerSec.toFixed(1).padStart(7)}/s  + affine ${augmentedBatchesPerSec.toFixed(1).padStart(6)}/s`,
    );
    return {
      size: set.imageSize,
      sampler: p.name,
      imagesPerBatch: p.images,
      indicesPerSec,
      batchesPerSec,
      augmentedBatchesPerSec,
    };
  });
}

// ---- the reference training step ------------------------------------------------------------

/** conv-4 (4 x [conv 64, BN, ReLU, pool]) forward + backward + SGD at 28x28, batch 128: images/s. */
function trainingStepRate(): number {
  manualSeed(0);
  const net = conv4ReferenceNet();
  const opt = new SGD(net, { lr: 0.01, momentum: 0.9 });
  const x = rand([128, 1, 28, 28]);
  const y = arange(128).remainder(64);
  const stepsPerSec = rate(
    () =>
      tidy(() => {
        opt.zeroGrad();
        F.crossEntropy(net.forward(x), y).backward();
        opt.step();
      }),
    seconds * 2,
  );
  log(`  reference: conv-4 training step, 28x28, batch 128: ${(stepsPerSec * 128).toFixed(0)} images/s`);
  return stepsPerSec * 128;
}

// ---- main -------------------------------------------------------------------------------------

const source = locateOmniglot();
log(`data benchmark: Omniglot from ${source}, ${getNumThreads()} libtorch threads`);
const loads: LoadResult[] = [];
const samplers: SamplerResult[] = [];
for (const size of [105, 28]) {
  let set: ImageSet;
  if (skipLoad) {
    set = await loadOmniglot({ source, split: 'background', size });
  } else {
    const timed = await loadTimes(source, size);
    loads.push(timed.result);
    set = timed.set;
  }
  samplers.push(...samplerRates(set));
  set.dispose();
}
const trainingImagesPerSec = trainingStepRate();

const summary = {
  bench: 'data',
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}`,
  threads: getNumThreads(),
  torch: engineInfo().torchVersion,
  loads,
  samplers,
  trainingImagesPerSec,
};
if (asJson) {
  console.log(JSON.stringify(summary));
} else {
  console.log(`data benchmark, ${summary.machine}, ${summary.threads} threads, libtorch ${summary.torch}`);
  for (const l of loads) {
    console.log(
      `Omniglot, ${l.images} images at ${l.size}x${l.size}: ${l.decodedSeconds.toFixed(2)} s decoded, ${l.cachedSeconds.toFixed(2)} s from the cache`,
    );
  }
  for (const s of samplers) {
    console.log(
      `${`${s.size}x${s.size} ${s.sampler}`.padEnd(36)} ${s.batchesPerSec.toFixed(1).padStart(7)} batches/s, ${s.augmentedBatchesPerSec.toFixed(1).padStart(6)} with affine (${s.imagesPerBatch} images a batch)`,
    );
  }
  console.log(`reference conv-4 training step at 28x28: ${trainingImagesPerSec.toFixed(0)} images/s`);
}
