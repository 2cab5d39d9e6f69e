// `npm run bench -- export [--json] [--seconds S] [--threads N]`: ONNX export of the shipped models —
// the CLI's wall time for models/omniglot-fast (start-up included; the target is 5 s), the export
// alone in process, and embedding with the exported file in onnxruntime-node beside twinshot's
// own InferenceModel on the same images and threads, interleaved.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { engineInfo, getNumThreads, noGrad, rand, setNumThreads, tidy } from '../src/engine/index.js';
import { buildOnnx } from '../src/export/onnx-export.js';
import { loadModelFolder } from '../src/models/model-folder.js';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 5) || 5;
const threads = args.includes('--threads') ? Number(args[args.indexOf('--threads') + 1]) : 1;
setNumThreads(threads);
const log = (line: string): void => {
  if (!asJson) console.error(line);
};
const root = path.resolve(import.meta.dirname, '..');
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Runs `once` until `budget` seconds have passed (at least 3 times); the median seconds per call. */
async function timeMedian(budget: number, once: () => unknown): Promise<number> {
  const times: number[] = [];
  const until = performance.now() + budget * 1000;
  while (times.length < 3 || performance.now() < until) {
    const start = performance.now();
    await once();
    times.push((performance.now() - start) / 1000);
  }
  return median(times);
}

// ---- the CLI, as a user runs it --------------------------------------------------------------------

const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-bench-export-')), 'model.onnx');
const cliRuns: number[] = [];
for (let i = 0; i < 3; i++) {
  const start = performance.now();
  const run = spawnSync(
    process.execPath,
    [path.join(root, 'bin/twinshot.js'), 'export', '--model', 'models/omniglot-fast', '--out', out],
    {
      cwd: root,
      env: { ...process.env, TWINSHOT_NUM_THREADS: String(threads) },
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) throw new Error(`twinshot export failed (run \`npm run build:ts\` first?):\n${run.stderr}`);
  cliRuns.push((performance.now() - start) / 1000);
}
const cliSeconds = median(cliRuns);
log(
  `twinshot export --model models/omniglot-fast: ${cliSeconds.toFixed(2)} s (median of 3, Node start-up and libtorch included)`,
);

// ---- in process, and embedding speed against twinshot ------------------------------------------

interface ModelResult {
  model: string;
  exportSeconds: number;
  onnxBytes: number;
  safetensorsBytes: number;
  /** Milliseconds per image, one image a call and batches of 64. */
  twinshot: { single: number; batch64: number };
  onnxruntime: { single: number; batch64: number };
}

const models: ModelResult[] = [];
for (const dir of ['models/omniglot-fast', 'models/omniglot-ensemble']) {
  const loaded = loadModelFolder(dir);
  const weights = fs.readFileSync(path.join(dir, 'model.safetensors'));
  let bytes: Uint8Array = new Uint8Array();
  const exportSeconds = await timeMedian(seconds / 4, () => {
    bytes = buildOnnx(loaded, weights).bytes;
  });
  fs.writeFileSync(out, bytes);
  const session = await ort.InferenceSession.create(out, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const size = loaded.card.preprocessing.size;
  const perImage = { twinshot: { single: 0, batch64: 0 }, onnxruntime: { single: 0, batch64: 0 } };
  for (const [key, n] of [
    ['single', 1],
    ['batch64', 64],
  ] as const) {
    const images = rand([n, 1, size, size]);
    const feed = { images: new ort.Tensor('float32', images.data() as Float32Array, [n, 1, size, size]) };
    // Interleaved halves, so both sides see the same load.
    for (let half = 0; half < 2; half++) {
      perImage.twinshot[key] +=
        (await timeMedian(seconds / 8, () => tidy(() => noGrad(() => loaded.inference.embed(images))))) / 2;
      perImage.onnxruntime[key] += (await timeMedian(seconds / 8, () => session.run(feed))) / 2;
    }
    perImage.twinshot[key] = (perImage.twinshot[key] * 1000) / n;
    perImage.onnxruntime[key] = (perImage.onnxruntime[key] * 1000) / n;
  }
  await session.release();
  const result: ModelResult = {
    model: path.basename(dir),
    exportSeconds,
    onnxBytes: bytes.byteLength,
    safetensorsBytes: weights.byteLength,
    ...perImage,
  };
  models.push(result);
  log(
    `${result.model}: export ${result.exportSeconds.toFixed(3)} s in process, ${(result.onnxBytes / 1e6).toFixed(2)} MB ` +
      `(${((100 * result.onnxBytes) / result.safetensorsBytes - 100).toFixed(1)}% over the safetensors file); ms per image, ` +
      `one / batches of 64: twinshot ${result.twinshot.single.toFixed(2)} / ${result.twinshot.batch64.toFixed(2)}, ` +
      `onnxruntime-node ${result.onnxruntime.single.toFixed(2)} / ${result.onnxruntime.batch64.toFixed(2)}`,
  );
}

const summary = {
  bench: 'export',
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'cpu'} x${os.availableParallelism()}`,
  threads: getNumThreads(),
  torch: engineInfo().torchVersion,
  onnxruntime: ort.env.versions.node,
  cliSeconds,
  models,
};
if (asJson) console.log(JSON.stringify(summary));
