// The ONNX exporter against twinshot itself: every model kind, exported and run by onnxruntime-node,
// gives twinshot's embeddings and pair logits; on Omniglot the shipped models' exports agree on
// 1,000 evaluation images and make the same decisions on 10,000 twenty-way tasks.
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../src/cli/index.js';
import { manualSeed, noGrad, rand, randn, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import { exportModelFolder, emitLayer, OnnxGraph, ONNX_OPSET, readOnnxInfo } from '../../src/export/index.js';
import type { ArchitectureConfig } from '../../src/models/config.js';
import { buildModel } from '../../src/models/factory.js';
import type { InferenceSettings } from '../../src/models/inference.js';
import { MAX_VIEWS } from '../../src/models/inference.js';
import {
  loadModelFolder,
  MODEL_FORMAT,
  saveModelFolder,
  SHIPPED_MODELS,
  type LoadedModel,
} from '../../src/models/model-folder.js';
import { TwinModel } from '../../src/models/twin-model.js';
import { AdaptiveAvgPool2d } from '../../src/nn/layers.js';
import { loadOmniglot } from '../../src/data/omniglot.js';
import type { ImageSet } from '../../src/data/dataset.js';
import { sampleTrials } from '../../src/evaluation/protocols.js';
import { classifyTasks, embedIndices } from '../../src/evaluation/one-shot.js';
import { estimateAccuracy, formatAccuracy } from '../../src/evaluation/statistics.js';
import { expectClose } from '../helpers/assert.js';
import { tempDir } from '../data/helpers.js';
import { needs, OMNIGLOT } from '../helpers/prerequisites.js';

const threads = Number(process.env.TWINSHOT_NUM_THREADS) || 1;

function session(file: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1 });
}

/** Runs `images` [N, 1, S, S] through an exported graph; returns its outputs by name. */
async function runImages(
  s: ort.InferenceSession,
  feeds: Record<string, Tensor>,
): Promise<Record<string, Float32Array>> {
  const inputs = Object.fromEntries(
    Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor('float32', t.data() as Float32Array, [...t.shape])]),
  );
  const out = await s.run(inputs);
  return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data as Float32Array]));
}

/** Random batch-norm statistics and affine values, so exported batch norm is really tested. */
function randomizeBatchNorm(model: TwinModel): void {
  noGrad(() => {
    for (const [name, t] of [...model.namedParameters(), ...model.namedBuffers()]) {
      if (name.endsWith('running_mean') || (name.includes('bn') && name.endsWith('bias')))
        t.copy_(randn(t.shape).mul(0.1));
      else if (name.endsWith('running_var')) t.copy_(rand(t.shape).add(0.5));
      else if (/\.1\.weight$|bn\d?\.weight$|shortcut_bn\.weight$/.test(name)) t.copy_(rand(t.shape).add(0.5));
    }
  });
}

type EmbeddingArchitecture = Extract<ArchitectureConfig, { kind: 'embedding' }>;
const conv = (overrides: Partial<EmbeddingArchitecture> = {}): EmbeddingArchitecture => ({
  kind: 'embedding',
  backbone: 'conv',
  channels: [8, 16],
  poolLast: true,
  globalPool: false,
  normalize: false,
  distance: 'squared-euclidean',
  ...overrides,
});

/** A model folder with random weights. */
function randomModelFolder(
  name: string,
  architecture: ArchitectureConfig,
  size: number,
  inference: InferenceSettings,
): LoadedModel {
  const model = buildModel(architecture, size);
  randomizeBatchNorm(model);
  const dir = path.join(tempDir('twinshot-onnx-'), name);
  saveModelFolder(dir, model, {
    format: MODEL_FORMAT,
    version: 1,
    name,
    architecture,
    preprocessing: { size, invert: true, frame: 'ink' },
    verification: { threshold: 1, scale: 2 },
    inference,
    metrics: {},
  });
  return loadModelFolder(dir);
}

describe('twinshot export (every model kind, random weights)', () => {
  const cases: { name: string; architecture: ArchitectureConfig; size: number; inference?: InferenceSettings }[] = [
    { name: 'conv', architecture: conv(), size: 28 },
    {
      name: 'conv-unpooled-last-head-normalized-cosine',
      architecture: conv({ poolLast: false, embeddingDim: 16, normalize: true, distance: 'cosine' }),
      size: 20,
    },
    {
      name: 'resnet-global-pool-euclidean',
      architecture: conv({ backbone: 'resnet', globalPool: true, embeddingDim: 12, distance: 'euclidean' }),
      size: 24,
    },
    {
      name: 'conv-centered-views',
      architecture: conv(),
      size: 28,
      inference: {
        centering: 'train-mean',
        mean: Array.from({ length: 16 * 7 * 7 }, (_, i) => Math.sin(i) * 0.1),
        views: 3,
      },
    },
    {
      name: 'ensemble-all-views',
      architecture: { kind: 'ensemble', members: [conv(), conv({ channels: [4, 8, 8], embeddingDim: 10 })] },
      size: 28,
      inference: { centering: 'none', views: MAX_VIEWS },
    },
    { name: 'koch2015', architecture: { kind: 'koch2015', codeSize: 24 }, size: 105 },
  ];

  for (const c of cases) {
    it(`${c.name}: the embed graph gives InferenceModel.embed, the twin graph the network's pair logits`, async () => {
      manualSeed(7);
      const loaded = randomModelFolder(c.name, c.architecture, c.size, c.inference ?? { centering: 'none' });
      const out = path.join(loaded.dir, 'model.onnx');
      const embed = exportModelFolder(loaded.dir, { out });
      const twin = exportModelFolder(loaded.dir, { out: path.join(loaded.dir, 'twin.onnx'), graph: 'twin' });

      // Weights once, as float32 (also in the twin graph, whose branch appears twice): the
      // safetensors file plus the constants the graph adds (view grids, the training mean) and
      // the graph's structure.
      const safetensors = fs.statSync(path.join(loaded.dir, 'model.safetensors')).size;
      const grids = ((c.inference?.views ?? 1) - 1) * c.size * c.size * 2 * 4;
      const mean = (c.inference?.mean?.length ?? 0) * 4;
      expect(embed.bytes.byteLength).toBeLessThanOrEqual(safetensors + grids + mean + 16_384);
      expect(twin.bytes.byteLength).toBeLessThanOrEqual(safetensors + 16_384);
      // Every weight of the network once in the twin graph, whose branch is used twice (batch
      // norm's step counter is not a weight, nor are an ensemble member's own pair head's
      // scalars); in the embed graph, each weight at most once.
      const weightNames = [...loaded.model.stateDict().keys()].filter(
        (k) => !k.endsWith('num_batches_tracked') && !/^member\d+\.pair_/.test(k),
      );
      const twinWeights = readOnnxInfo(twin.bytes)
        .initializers.map((i) => i.name)
        .filter((n) => weightNames.includes(n));
      expect(twinWeights.sort()).toEqual([...weightNames].sort());
      const embedNames = readOnnxInfo(embed.bytes).initializers.map((i) => i.name);
      expect(new Set(embedNames).size).toBe(embedNames.length);
      const manifest = JSON.parse(fs.readFileSync(`${out}.json`, 'utf8')) as typeof embed.manifest;
      expect(manifest).toEqual(embed.manifest);
      expect(manifest.views).toBe(c.inference?.views ?? 1);

      const x1 = rand([5, 1, c.size, c.size]);
      const x2 = rand([5, 1, c.size, c.size]);
      const s = await session(out);
      expect(s.inputNames).toEqual(['images']);
      const got = (await runImages(s, { images: x1 })).embeddings!;
      const want = noGrad(() => loaded.inference.embed(x1));
      expect(got.length).toBe(5 * manifest.dim);
      expectClose(tensor(got, { shape: [5, manifest.dim] }), want, { atol: 1e-4, rtol: 1e-4 });
      // the batch is dynamic
      const one = (await runImages(s, { images: x1.narrow(0, 2, 1) })).embeddings!;
      expectClose(tensor(one, { shape: [1, manifest.dim] }), want.narrow(0, 2, 1), { atol: 1e-4, rtol: 1e-4 });

      const pair = await runImages(await session(twin.files[0]!), { images1: x1, images2: x2 });
      const logits = noGrad(() => loaded.model.pairLogits(loaded.model.embed(x1), loaded.model.embed(x2)));
      expectClose(tensor(pair.logits!), logits, { atol: 1e-4, rtol: 1e-4 });
      expectClose(
        tensor(pair.probabilities!),
        noGrad(() => logits.sigmoid()),
        { atol: 1e-5 },
      );
    });
  }

  it('records the preprocessing, metric, threshold and tensor names in metadata_props and FILE.json', () => {
    manualSeed(1);
    const loaded = randomModelFolder('meta', conv(), 28, { centering: 'none' });
    const { manifest, bytes } = exportModelFolder(loaded.dir, { out: path.join(loaded.dir, 'model.onnx') });
    expect(manifest).toMatchObject({
      format: 'twinshot-onnx',
      graph: 'embed',
      opset: ONNX_OPSET,
      metric: 'l2',
      dim: 16 * 7 * 7,
      inputs: [{ name: 'images', dtype: 'float32', shape: ['batch', 1, 28, 28] }],
      outputs: [{ name: 'embeddings', dtype: 'float32', shape: ['batch', 16 * 7 * 7] }],
      preprocessing: { size: 28, invert: true, frame: 'ink' },
      verification: { threshold: 1, scale: 2 },
    });
    expect(manifest.id).toMatch(/^meta@[0-9a-f]{12}$/);
    expect(manifest.preprocessing.steps.join(' ')).toMatch(/darker than 128.*Lanczos-3.*255 - v.*divide by 255/);
    // metadata_props hold the same values as strings (keys twinshot.*)
    const info = readOnnxInfo(bytes);
    expect(info).toMatchObject({
      irVersion: 9,
      opsets: { '': ONNX_OPSET },
      producer: 'twinshot',
      inputs: ['images'],
      outputs: ['embeddings'],
    });
    expect(Object.keys(info.metadata)).toEqual(Object.keys(manifest).map((key) => `twinshot.${key}`));
    for (const [key, value] of Object.entries(manifest)) {
      const stored = info.metadata[`twinshot.${key}`]!;
      expect(typeof value === 'string' ? stored : JSON.parse(stored)).toEqual(value);
    }
    expect(() => readOnnxInfo(new TextEncoder().encode('{"not": "onnx"}'))).toThrow(/not an ONNX model/);
  });

  it('keeps the shipped models within their safetensors size plus 10%', () => {
    for (const dir of Object.values(SHIPPED_MODELS)) {
      const { bytes } = exportModelFolder(dir, { out: path.join(tempDir('twinshot-onnx-size-'), 'model.onnx') });
      expect(bytes.byteLength).toBeLessThanOrEqual(fs.statSync(path.join(dir, 'model.safetensors')).size * 1.1);
    }
  });

  it('is the command `twinshot export --model DIR --format onnx --out FILE`, with one clear error for a wrong format or graph', async () => {
    manualSeed(3);
    const loaded = randomModelFolder('cli', conv(), 28, { centering: 'none' });
    const twinshot = async (...args: string[]): Promise<string> => {
      const lines: string[] = [];
      const log = vi
        .spyOn(console, 'log')
        .mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
      try {
        await buildProgram()
          .exitOverride()
          .parseAsync(['node', 'twinshot', ...args]);
      } finally {
        log.mockRestore();
      }
      return lines.join('\n');
    };
    const out = path.join(loaded.dir, 'cli.onnx');
    const printed = await twinshot('export', '--model', loaded.dir, '--format', 'onnx', '--out', out);
    expect(printed).toMatch(
      /cli\.onnx: 0\.\d\d MB, 'embed' graph of cli@[0-9a-f]{12}, input images \[batch, 1, 28, 28\], output embeddings \[batch, 784\]/,
    );
    expect(fs.existsSync(out) && fs.existsSync(`${out}.json`)).toBe(true);
    await twinshot('export', '--model', loaded.dir, '--graph', 'twin');
    expect(fs.existsSync(path.join(loaded.dir, 'model-twin.onnx'))).toBe(true);
    await expect(twinshot('export', '--model', loaded.dir, '--format', 'tflite')).rejects.toMatchObject({
      code: 'ERR_ARGUMENT',
      message: "--format must be 'onnx' (the only export format); got 'tflite'",
    });
    await expect(twinshot('export', '--model', loaded.dir, '--graph', 'pairs')).rejects.toMatchObject({
      code: 'ERR_ARGUMENT',
    });
    await expect(twinshot('export', '--model', path.join(loaded.dir, 'missing'))).rejects.toMatchObject({
      code: 'ERR_MODEL',
    });
  });

  it('writes the same bytes twice (no timestamps), so builds can skip an unchanged export', () => {
    manualSeed(2);
    const loaded = randomModelFolder('stable', conv(), 28, { centering: 'none' });
    const a = exportModelFolder(loaded.dir, { out: path.join(loaded.dir, 'a.onnx') });
    const b = exportModelFolder(loaded.dir, { out: path.join(loaded.dir, 'b.onnx') });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  });

  it('names what it cannot export and where to add it', () => {
    class Mystery extends TwinModel {
      embed = (x: Tensor): Tensor => x;
      pairLogits = (a: Tensor): Tensor => a;
      pairDistances = (a: Tensor): Tensor => a;
      pairLogitMatrix = (a: Tensor): Tensor => a;
      distanceMatrix = (a: Tensor): Tensor => a;
    }
    const loaded = randomModelFolder('plain', conv(), 28, { centering: 'none' });
    expect(() =>
      exportModelFolder(loaded.dir, { out: path.join(loaded.dir, 'x.onnx'), graph: 'pairs' as never }),
    ).toThrow(/graph must be one of embed, twin; got 'pairs'/);
    const g = new OnnxGraph('t');
    expect(() => emitLayer(g, new AdaptiveAvgPool2d(2), 'x', 'pool')).toThrow(
      /AdaptiveAvgPool2d at 'pool' cannot be exported \(output size 2x2.*src\/export\/layer-emitters.ts/,
    );
    const error = (() => {
      try {
        emitLayer(g, new Mystery(), 'x', '');
      } catch (e) {
        return e as { code: string; message: string };
      }
    })();
    expect(error?.code).toBe('ERR_MODEL');
    expect(error?.message).toMatch(/Mystery at the network cannot be exported/);
  });
});

// ---- the shipped models on Omniglot's evaluation alphabets --------------------------------------

const shipped = Object.values(SHIPPED_MODELS);

/** Embeds every image of `set` with an exported embed graph, in batches. */
async function embedWithOnnx(s: ort.InferenceSession, set: ImageSet, indices: readonly number[]): Promise<Tensor> {
  const rows: Float32Array[] = [];
  for (let start = 0; start < indices.length; start += 256) {
    const batch = tidy(() => set.batch(indices.slice(start, start + 256)));
    rows.push((await runImages(s, { images: batch })).embeddings!);
    batch.dispose();
  }
  const flat = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  let offset = 0;
  for (const r of rows) {
    flat.set(r, offset);
    offset += r.length;
  }
  return tensor(flat, { shape: [indices.length, flat.length / indices.length] });
}

needs(OMNIGLOT).describe('exported shipped models on Omniglot (evaluation alphabets)', () => {
  for (const dir of shipped) {
    it(`${path.basename(dir)}: embeddings within 1e-4 on 1,000 images, the same decisions on 10,000 twenty-way tasks`, async () => {
      const loaded = loadModelFolder(dir);
      const out = path.join(tempDir('twinshot-onnx-shipped-'), 'model.onnx');
      exportModelFolder(dir, { out });
      const s = await session(out);
      const evaluation = await loadOmniglot({ ...loaded.card.preprocessing, split: 'evaluation' });
      // The first two drawers of every evaluation character (1,318 images, all 20 alphabets): a
      // one-shot task needs two, and the ensemble's 4 views x 5 nets stay within the test's time.
      const set = evaluation.selectDrawers(evaluation.drawerIds().slice(0, 2));
      evaluation.dispose();
      const all = Array.from({ length: set.size }, (_, i) => i);

      const theirs = await embedWithOnnx(s, set, all);
      const ours = embedIndices(loaded.inference, set, all);
      const sample = Array.from({ length: 1000 }, (_, i) => Math.floor((i * set.size) / 1000));
      const index = tensor(sample);
      let worst = 0;
      tidy(() => {
        worst = theirs.indexSelect(0, index).sub(ours.indexSelect(0, index)).abs().max().item();
      });
      expect(worst).toBeLessThanOrEqual(1e-4);

      const tasks = sampleTrials(set, { way: 20, shot: 1, trials: 10_000, seed: 1, withinGroup: true });
      const rows = new Map(all.map((i) => [i, i]));
      const want = classifyTasks(loaded.inference, ours, rows, tasks);
      const got = classifyTasks(loaded.inference, theirs, rows, tasks);
      const differing = got.filter((p, t) => p[0] !== want[t]![0]).length;
      expect(differing).toBe(0);
      const correct = got.filter((p, t) => p[0] === tasks[t]!.answers[0]).length;
      console.log(
        `${path.basename(dir)} exported (opset ${ONNX_OPSET}, onnxruntime-node ${ort.env.versions.node}): max |diff| ${worst.toExponential(2)} on 1,000 images; ` +
          `${tasks.length - differing}/${tasks.length} decisions equal; accuracy ${formatAccuracy(estimateAccuracy(correct, tasks.length))} (2 drawers)`,
      );
      set.dispose();
    }, 600_000);
  }
});
