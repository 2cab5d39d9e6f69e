// `npm run bench -- engine [--json] [--rounds N] [--device cpu|cuda]`: training-step throughput of
// twinshot against PyTorch (Debian's python3-torch; TWINSHOT_PYTHON names another) on the same
// machine and device, in alternating rounds to share the noise.
// The ratio printed last compares with PyTorch as installed; JSON also has `ratiosToTunedPeer`.
// (a) conv-4, 28x28, batch 64, SGD step, in float32 and in bfloat16 mixed precision;
// (b) Koch et al.'s twin net, 105x105 pairs, batch 32.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { arange, autocast, cuda, getNumThreads, manualSeed, rand, tidy, engineInfo } from '../src/engine/index.js';
import { conv4ReferenceNet } from './reference-nets.js';
import * as F from '../src/nn/functional.js';
import { SGD } from '../src/optim/sgd.js';
import { Koch2015 } from '../src/models/koch2015.js';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 3) || 3;
const deviceArg = args.includes('--device') ? args[args.indexOf('--device') + 1] : 'cpu';
if (deviceArg !== 'cpu' && deviceArg !== 'cuda') throw new Error(`--device must be cpu or cuda; got ${deviceArg}`);
const device: 'cpu' | 'cuda' = deviceArg;
if (device === 'cuda' && !cuda.isAvailable())
  throw new Error('--device cuda: this libtorch has no CUDA or sees no GPU (build against a CUDA libtorch)');
const python = process.env.TWINSHOT_PYTHON ?? '/usr/bin/python3';
const here = path.dirname(fileURLToPath(import.meta.url));

interface Job {
  name: 'conv4' | 'conv4-bf16' | 'koch';
  label: string;
  unit: string;
  steps: number;
  warmup: number;
  make(): { step: () => void; perStep: number };
}

// The conv-4 step, in float32 or with bfloat16 mixed precision (autocast) on the forward pass.
function conv4Job(mixed: boolean): Job {
  return {
    name: mixed ? 'conv4-bf16' : 'conv4',
    label: `conv-4 training step, 28x28, batch 64${mixed ? ', bfloat16 autocast' : ''}`,
    unit: 'images/s',
    steps: 30,
    warmup: 3,
    make() {
      const net = conv4ReferenceNet().to(device);
      const opt = new SGD(net, { lr: 0.01, momentum: 0.9 });
      const x = rand([64, 1, 28, 28]).to(device);
      const y = arange(64).to(device);
      const forward = () => (mixed ? autocast(() => net.forward(x), { deviceType: device }).float() : net.forward(x));
      return {
        perStep: 64,
        step: () =>
          tidy(() => {
            opt.zeroGrad();
            F.crossEntropy(forward(), y).backward();
            opt.step();
          }),
      };
    },
  };
}

const jobs: Job[] = [
  conv4Job(false),
  conv4Job(true),
  {
    name: 'koch',
    label: 'Koch et al. twin net, 105x105 pairs, batch 32',
    unit: 'pairs/s',
    steps: 3,
    warmup: 1,
    make() {
      const net = new Koch2015().to(device);
      const opt = new SGD(net, { lr: 0.01, momentum: 0.5 });
      const a = rand([32, 1, 105, 105]).to(device);
      const b = rand([32, 1, 105, 105]).to(device);
      const y = arange(32).remainder(2).float().to(device);
      return {
        perStep: 32,
        step: () =>
          tidy(() => {
            opt.zeroGrad();
            F.binaryCrossEntropyWithLogits(net.pairLogits(net.embed(a), net.embed(b)), y).backward();
            opt.step();
          }),
      };
    },
  },
];

function timeOurs(job: Job): number {
  manualSeed(0);
  const { step, perStep } = job.make();
  for (let i = 0; i < job.warmup; i++) step();
  cuda.synchronize(); // GPU work is queued: time from an empty queue to an empty queue
  const start = performance.now();
  for (let i = 0; i < job.steps; i++) step();
  cuda.synchronize();
  return (job.steps * perStep) / ((performance.now() - start) / 1000);
}

// twinshot tunes glibc's allocator at load (native/src/addon.cc); the tuned peer runs PyTorch with
// the same setting through glibc's environment variables, to show where the difference comes from.
const TUNED_ENV = { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: String(1 << 30) };

function timePeer(job: Job, tuned: boolean): number {
  const result = spawnSync(
    python,
    [
      path.join(here, 'engine_peer.py'),
      job.name,
      String(job.steps),
      String(job.warmup),
      String(getNumThreads()),
      device,
    ],
    {
      encoding: 'utf8',
      env: tuned ? { ...process.env, ...TUNED_ENV } : process.env,
    },
  );
  if (result.status !== 0) throw new Error(`PyTorch peer failed (is python3-torch installed?):\n${result.stderr}`);
  return (JSON.parse(result.stdout.trim().split('\n').pop()!) as { itemsPerSec: number }).itemsPerSec;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const results = jobs.map((job) => {
  const ours: number[] = [];
  const peer: number[] = [];
  const tunedPeer: number[] = [];
  for (let r = 0; r < rounds; r++) {
    ours.push(timeOurs(job));
    peer.push(timePeer(job, false));
    tunedPeer.push(timePeer(job, true));
    if (!asJson) {
      console.error(
        `  ${job.name} round ${r + 1}/${rounds}: twinshot ${ours.at(-1)!.toFixed(1)}, pytorch ${peer.at(-1)!.toFixed(1)}, pytorch with the same allocator setting ${tunedPeer.at(-1)!.toFixed(1)} ${job.unit}`,
      );
    }
  }
  return {
    job: job.name,
    label: job.label,
    unit: job.unit,
    twinshot: median(ours),
    pytorch: median(peer),
    pytorchTunedAllocator: median(tunedPeer),
    ratio: median(ours) / median(peer),
    ratioToTunedPeer: median(ours) / median(tunedPeer),
  };
});

const summary = {
  bench: 'engine',
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}`,
  device,
  threads: getNumThreads(),
  torch: engineInfo().torchVersion,
  rounds,
  results,
  ratiosToTunedPeer: Object.fromEntries(results.map((r) => [r.job, Number(r.ratioToTunedPeer.toFixed(3))])),
  ratios: Object.fromEntries(results.map((r) => [r.job, Number(r.ratio.toFixed(3))])),
};
if (asJson) {
  console.log(JSON.stringify(summary));
} else {
  console.log(
    `engine benchmark on ${device}, ${summary.machine}, ${summary.threads} threads, libtorch ${summary.torch}, median of ${rounds} rounds`,
  );
  for (const r of results) {
    console.log(
      `${r.label.padEnd(Math.max(...results.map((x) => x.label.length)))} twinshot ${r.twinshot.toFixed(1).padStart(8)}  pytorch ${r.pytorch.toFixed(1).padStart(8)}  pytorch+allocator setting ${r.pytorchTunedAllocator.toFixed(1).padStart(8)} ${r.unit}`,
    );
  }
  for (const r of results)
    console.log(`ratio to PyTorch with the same allocator setting, ${r.job}: ${r.ratioToTunedPeer.toFixed(3)}`);
  for (const r of results) console.log(`ratio ${r.job}: ${r.ratio.toFixed(3)}`);
}
