// `npm run bench -- engine [--seconds S] [--warmup S] [--rounds N] [--jobs a,b] [--stock-peer] [--json]
// [--device cpu|cuda]`: training-step throughput of twinshot against PyTorch (Debian's python3-torch;
// TWINSHOT_PYTHON names another) on the same machine, device, thread count and allocator setting.
// Each round times every job on both sides, alternating which side goes first, for at least
// --seconds (default 20) after at least --warmup seconds (default 10) and 3 steps of warm-up; the
// headline ratio is the median over rounds of twinshot / PyTorch within a round.
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
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const positive = (name: string, fallback: number): number => {
  const value = Number(option(name) ?? fallback);
  if (!(value > 0)) throw new Error(`${name} must be a number > 0; got ${option(name)}`);
  return value;
};
const asJson = args.includes('--json');
const rounds = Math.round(positive('--rounds', 3));
const seconds = positive('--seconds', 20);
const warmupSeconds = positive('--warmup', 10);
const withStockPeer = args.includes('--stock-peer');
const deviceArg = option('--device') ?? 'cpu';
if (deviceArg !== 'cpu' && deviceArg !== 'cuda') throw new Error(`--device must be cpu or cuda; got ${deviceArg}`);
const device: 'cpu' | 'cuda' = deviceArg;
if (device === 'cuda' && !cuda.isAvailable())
  throw new Error('--device cuda: this libtorch has no CUDA or sees no GPU (build against a CUDA libtorch)');
const python = process.env.TWINSHOT_PYTHON ?? '/usr/bin/python3';
const here = path.dirname(fileURLToPath(import.meta.url));
const WARMUP_STEPS = 3;

type JobName = 'conv4' | 'conv4-bf16' | 'koch';
interface Job {
  name: JobName;
  label: string;
  unit: string;
  make(): { step: () => void; perStep: number };
}

// The conv-4 step, in float32 or with bfloat16 mixed precision (autocast) on the forward pass.
function conv4Job(mixed: boolean): Job {
  return {
    name: mixed ? 'conv4-bf16' : 'conv4',
    label: `conv-4 training step, 28x28, batch 64${mixed ? ', bfloat16 autocast' : ''}`,
    unit: 'images/s',
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

const allJobs: Job[] = [
  conv4Job(false),
  conv4Job(true),
  {
    name: 'koch',
    label: 'Koch et al. twin net, 105x105 pairs, batch 32',
    unit: 'pairs/s',
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
const jobNames = (option('--jobs') ?? allJobs.map((j) => j.name).join(',')).split(',');
const jobs = jobNames.map((name) => {
  const job = allJobs.find((j) => j.name === name);
  if (!job) throw new Error(`--jobs: unknown job ${name}; use ${allJobs.map((j) => j.name).join(', ')}`);
  return job;
});

interface Timing {
  itemsPerSec: number;
  steps: number;
  seconds: number;
}

// Runs `step` until both the step count and the time reach their minimums (a whole number of
// steps is timed, so a slow step is never cut off). GPU work is queued: each step ends with an
// empty queue, as in the peer.
function timeSteps(step: () => void, minSteps: number, minSeconds: number): { steps: number; seconds: number } {
  cuda.synchronize();
  const start = performance.now();
  let steps = 0;
  let elapsed = 0;
  while (steps < minSteps || elapsed < minSeconds) {
    step();
    steps++;
    cuda.synchronize(); // a no-op on the CPU
    elapsed = (performance.now() - start) / 1000;
  }
  return { steps, seconds: elapsed };
}

function timeOurs(job: Job): Timing {
  manualSeed(0);
  const { step, perStep } = job.make();
  timeSteps(step, WARMUP_STEPS, warmupSeconds);
  const { steps, seconds: elapsed } = timeSteps(step, 1, seconds);
  return { itemsPerSec: (steps * perStep) / elapsed, steps, seconds: elapsed };
}

// twinshot tunes glibc's allocator at load (TuneAllocator in native/src/addon.cc) unless
// TWINSHOT_MALLOC_TUNING=0; the peer gets the same setting through glibc's environment variables.
const TUNED_ENV = { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: String(1 << 30) };
const twinshotTunesAllocator = process.env.TWINSHOT_MALLOC_TUNING !== '0';

interface PeerTiming extends Timing {
  torch: string;
  threads: number;
}

function timePeer(job: Job, sameAllocatorSetting: boolean): PeerTiming {
  const env = { ...process.env };
  for (const name of Object.keys(TUNED_ENV)) delete env[name];
  const result = spawnSync(
    python,
    [
      path.join(here, 'engine_peer.py'),
      job.name,
      String(seconds),
      String(warmupSeconds),
      String(WARMUP_STEPS),
      String(getNumThreads()),
      device,
    ],
    { encoding: 'utf8', env: sameAllocatorSetting && twinshotTunesAllocator ? { ...env, ...TUNED_ENV } : env },
  );
  if (result.status !== 0) throw new Error(`PyTorch peer failed (is python3-torch installed?):\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as PeerTiming;
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round3 = (x: number) => Number(x.toFixed(3));

let peerTorch = '';
let peerThreads = 0;
const results = jobs.map((job) => {
  const ours: Timing[] = [];
  const peer: PeerTiming[] = [];
  const stock: PeerTiming[] = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so that a trend in the machine's load favours neither.
    if (r % 2 === 0) {
      ours.push(timeOurs(job));
      peer.push(timePeer(job, true));
    } else {
      peer.push(timePeer(job, true));
      ours.push(timeOurs(job));
    }
    if (withStockPeer) stock.push(timePeer(job, false));
    peerTorch = peer.at(-1)!.torch;
    peerThreads = peer.at(-1)!.threads;
    if (!asJson) {
      console.error(
        `  ${job.name} round ${r + 1}/${rounds}: twinshot ${ours.at(-1)!.itemsPerSec.toFixed(1)} (${ours.at(-1)!.steps} steps), ` +
          `PyTorch ${peer.at(-1)!.itemsPerSec.toFixed(1)} (${peer.at(-1)!.steps} steps)` +
          (withStockPeer ? `, PyTorch with glibc's default allocator ${stock.at(-1)!.itemsPerSec.toFixed(1)}` : '') +
          ` ${job.unit}`,
      );
    }
  }
  const perRound = ours.map((o, r) => o.itemsPerSec / peer[r]!.itemsPerSec);
  return {
    job: job.name,
    label: job.label,
    unit: job.unit,
    twinshot: median(ours.map((t) => t.itemsPerSec)),
    pytorch: median(peer.map((t) => t.itemsPerSec)),
    ratio: median(perRound),
    roundRatios: perRound.map(round3),
    seconds: { twinshot: ours.map((t) => round3(t.seconds)), pytorch: peer.map((t) => round3(t.seconds)) },
    ...(withStockPeer
      ? {
          pytorchDefaultAllocator: median(stock.map((t) => t.itemsPerSec)),
          ratioToDefaultAllocator: median(ours.map((o, r) => o.itemsPerSec / stock[r]!.itemsPerSec)),
        }
      : {}),
  };
});

const summary = {
  bench: 'engine',
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}`,
  device,
  threads: getNumThreads(),
  torch: engineInfo().torchVersion,
  peer: { python, torch: peerTorch, threads: peerThreads },
  allocator: twinshotTunesAllocator ? TUNED_ENV : 'glibc defaults (TWINSHOT_MALLOC_TUNING=0)',
  seconds,
  warmupSeconds,
  rounds,
  results,
  /** The headline: twinshot / PyTorch with the same allocator setting, median over rounds. */
  ratios: Object.fromEntries(results.map((r) => [r.job, round3(r.ratio)])),
};
if (asJson) {
  console.log(JSON.stringify(summary));
} else {
  console.log(
    `engine benchmark on ${device}, ${summary.machine}, ${summary.threads} threads; twinshot on libtorch ${summary.torch}, ` +
      `peer PyTorch ${peerTorch} (${python}, ${peerThreads} threads); allocator ${twinshotTunesAllocator ? 'MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1073741824 on both sides' : 'glibc defaults on both sides'}; ` +
      `${rounds} rounds of at least ${seconds} s per side`,
  );
  const width = Math.max(...results.map((x) => x.label.length));
  for (const r of results) {
    console.log(
      `${r.label.padEnd(width)}  twinshot ${r.twinshot.toFixed(1).padStart(8)}  PyTorch ${r.pytorch.toFixed(1).padStart(8)} ${r.unit}` +
        (r.pytorchDefaultAllocator === undefined
          ? ''
          : `  (PyTorch with glibc's default allocator ${r.pytorchDefaultAllocator.toFixed(1)}, ratio ${r.ratioToDefaultAllocator!.toFixed(3)})`),
    );
  }
  for (const r of results) {
    console.log(`ratio ${r.job}: ${r.ratio.toFixed(3)} (rounds: ${r.roundRatios.join(', ')})`);
  }
}
