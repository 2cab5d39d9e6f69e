// `npm run check:cuda [-- --device cpu]`: on a machine with a GPU and an addon built against a
// CUDA libtorch, checks that the same nets, training steps and files agree on the CPU and on CUDA.
// `--device cpu` runs the same comparisons CPU against CPU (a check of the script itself).
// Exits 1 with a line per failed comparison.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { autocast, cuda, engineInfo, manualSeed, rand, tidy } from '../src/engine/index.js';
import * as F from '../src/nn/functional.js';
import { Adam } from '../src/optim/adam.js';
import { Koch2015 } from '../src/models/koch2015.js';
import { saveModule, loadModule } from '../src/io/safetensors.js';
import { conv4ReferenceNet } from '../bench/reference-nets.js';

const args = process.argv.slice(2);
const deviceArg = args.includes('--device') ? args[args.indexOf('--device') + 1] : 'cuda';
if (deviceArg !== 'cpu' && deviceArg !== 'cuda') throw new Error(`--device must be cpu or cuda; got ${deviceArg}`);
const device: 'cpu' | 'cuda' = deviceArg;

const info = engineInfo();
console.log(`libtorch ${info.torchVersion}, CUDA ${info.cudaAvailable ? `yes (${info.cudaDeviceCount} GPUs)` : 'no'}`);
if (device === 'cuda' && !cuda.isAvailable()) {
  console.error(
    'check-cuda: this addon has no CUDA or sees no GPU. Build it against a CUDA libtorch: LIBTORCH=/path/to/libtorch npm run build:native',
  );
  process.exit(1);
}

let failures = 0;
// GPU kernels sum in other orders (and use TF32 for convolutions by default), so agreement is
// judged relative to the largest magnitude.
function compare(what: string, expected: number[], actual: number[], tolerance: number): void {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(expected[i]! - actual[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  const relative = worst / Math.max(scale, 1e-12);
  const ok = expected.length === actual.length && relative <= tolerance;
  if (!ok) failures++;
  console.log(
    `${ok ? 'ok  ' : 'FAIL'} ${what}: ${expected.length} values, largest difference ${worst.toExponential(2)} (${relative.toExponential(2)} relative; allowed ${tolerance})`,
  );
}
const flatParameters = (net: { parameters(): { toArray(): number[] }[] }) =>
  net.parameters().flatMap((p) => p.toArray());

// conv-4 with batch norm from one starting point: forward, backward and two Adam steps.
manualSeed(3);
const start = conv4ReferenceNet();
const x = rand([16, 1, 28, 28]);
const target = rand([16, 64]);
function trainTwoSteps(on: 'cpu' | 'cuda') {
  const net = conv4ReferenceNet();
  net.loadStateDict(start.stateDict());
  net.to(on);
  const optimizer = new Adam(net, { lr: 1e-3 });
  let firstOutput: number[] = [];
  for (let step = 0; step < 2; step++) {
    tidy(() => {
      optimizer.zeroGrad();
      const y = net.forward(x.to(on));
      if (step === 0) firstOutput = y.toArray();
      F.mseLoss(y, target.to(on)).backward();
      optimizer.step();
    });
  }
  const gradients = net.parameters().flatMap((p) => p.grad?.toArray() ?? []);
  return { net, firstOutput, gradients, parameters: flatParameters(net) };
}
const onCpu = trainTwoSteps('cpu');
const onDevice = trainTwoSteps(device);
compare('conv-4 forward', onCpu.firstOutput, onDevice.firstOutput, 1e-2);
compare('conv-4 gradients of the second step', onCpu.gradients, onDevice.gradients, 2e-2);
compare('conv-4 parameters after two Adam steps', onCpu.parameters, onDevice.parameters, 1e-2);

// Weights trained on the device save to safetensors and load on the CPU unchanged.
const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-check-')), 'model.safetensors');
saveModule(onDevice.net, file);
const reloaded = conv4ReferenceNet();
loadModule(reloaded, file);
compare(`saved on ${device}, loaded on cpu`, onDevice.parameters, flatParameters(reloaded), 0);
fs.rmSync(path.dirname(file), { recursive: true });

// Koch et al.'s twin net: pair logits on both devices, then bfloat16 autocast on the device.
manualSeed(5);
const koch = new Koch2015().eval();
const a = rand([4, 1, 105, 105]);
const b = rand([4, 1, 105, 105]);
const cpuLogits = tidy(() => koch.pairLogits(koch.embed(a), koch.embed(b)).toArray());
koch.to(device);
const deviceLogits = tidy(() => koch.pairLogits(koch.embed(a.to(device)), koch.embed(b.to(device))).toArray());
compare('Koch pair logits', cpuLogits, deviceLogits, 1e-2);
const mixed = tidy(() => {
  const codes = autocast(() => koch.embed(a.to(device)), { deviceType: device });
  return { dtype: codes.dtype, values: codes.float().toArray() };
});
if (mixed.dtype !== 'bfloat16') failures++;
console.log(`${mixed.dtype === 'bfloat16' ? 'ok  ' : 'FAIL'} autocast on ${device} gives ${mixed.dtype} codes`);
const fullPrecision = tidy(() => koch.embed(a.to(device)).toArray());
compare('Koch codes, bfloat16 autocast against float32', fullPrecision, mixed.values, 0.1);
cuda.synchronize();

console.log(failures === 0 ? `all checks passed on ${device}` : `${failures} checks failed on ${device}`);
process.exit(failures === 0 ? 0 : 1);
