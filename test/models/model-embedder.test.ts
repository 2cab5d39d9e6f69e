import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { manualSeed, noGrad, tensor } from '../../src/engine/index.js';
import { EmbeddingNet } from '../../src/models/embedding-net.js';
import { loadModelFolder, saveModelFolder, MODEL_FORMAT } from '../../src/models/model-folder.js';
import { ModelEmbedder, modelDigest } from '../../src/models/model-embedder.js';
import { loadEmbedder } from '../../src/service/load-embedder.js';
import { expectClose } from '../helpers/assert.js';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) fs.rmSync(folder, { recursive: true, force: true });
});

function tinyModelFolder(centering: 'none' | 'train-mean', seed = 4): string {
  manualSeed(seed);
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-embedder-'));
  folders.push(parent);
  const dir = path.join(parent, 'tiny');
  const model = new EmbeddingNet({ backbone: 'conv', channels: [8, 8], inputSize: 28 });
  saveModelFolder(dir, model, {
    format: MODEL_FORMAT,
    version: 1,
    name: 'tiny',
    architecture: { kind: 'embedding', backbone: 'conv', channels: [8, 8], poolLast: true, globalPool: false, normalize: false, distance: 'squared-euclidean' },
    preprocessing: { size: 28, invert: true },
    verification: { threshold: 0.7, scale: 5 },
    inference: centering === 'none' ? { centering } : { centering, mean: Array.from({ length: 392 }, (_, i) => (i % 7) / 10) },
    metrics: {},
  });
  return dir;
}

function images(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, k) => Uint8Array.from({ length: 784 }, (_, i) => ((i * (k + 3)) % 17) * 15));
}

describe('ModelEmbedder', () => {
  for (const centering of ['none', 'train-mean'] as const) {
    it(`embeds in a worker exactly as the model does in-process (centering ${centering})`, async () => {
      const dir = tinyModelFolder(centering);
      const embedder = await ModelEmbedder.open(dir);
      try {
        expect(embedder.info).toMatchObject({ name: 'tiny', dim: 392, metric: 'l2', preprocessing: { size: 28, invert: true }, threshold: 0.7 });
        const inputs = images(3);
        const vectors = await embedder.embed(inputs);
        expect(vectors).toHaveLength(3);
        const { inference } = loadModelFolder(dir);
        const flat = new Uint8Array(3 * 784);
        inputs.forEach((img, i) => flat.set(img, i * 784));
        const expected = noGrad(() => inference.embed(tensor(flat, { shape: [3, 1, 28, 28] }).float().div(255)));
        expectClose(tensor(Float32Array.from(vectors.flatMap((v) => [...v])), { shape: [3, 392] }), expected, { atol: 1e-5 });
        if (centering === 'train-mean') expectClose(expected.norm(2, 1), [1, 1, 1], { atol: 1e-5 });
        expect(embedder.confidence(0.7)).toBeCloseTo(0.5, 10);
        expect(embedder.confidence(0.2)).toBeGreaterThan(embedder.confidence(1.2));
        await Promise.all([embedder.embed(images(2)), embedder.embed(images(5))]).then(([a, b]) => {
          expect(a).toHaveLength(2);
          expect(b).toHaveLength(5);
        });
        expect(() => embedder.embed([new Uint8Array(10)])).toThrow(/has 10 pixels; the model takes 28x28/);
      } finally {
        await embedder.close();
      }
      await expect(embedder.embed(images(1))).rejects.toThrow(/closed/);
    }, 60_000);
  }

  it('is identified by name and a digest of its weights, so a retrained release is told apart', async () => {
    const ids: string[] = [];
    for (const seed of [4, 4, 5]) {
      const embedder = await ModelEmbedder.open(tinyModelFolder('none', seed));
      ids.push(embedder.info.id!);
      await embedder.close();
    }
    expect(ids[0]).toMatch(/^tiny@[0-9a-f]{12}$/);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
  }, 60_000);

  it('digests the inference settings too when they change the vectors (views, centering)', () => {
    const weights = Uint8Array.from([1, 2, 3]);
    const plain = modelDigest(weights, { inference: { centering: 'none' } });
    expect(modelDigest(weights, { inference: { centering: 'none', views: 1 } })).toBe(plain);
    const fourViews = modelDigest(weights, { inference: { centering: 'none', views: 4 } });
    const centred = modelDigest(weights, { inference: { centering: 'train-mean', mean: [0.5] } });
    expect(new Set([plain, fourViews, centred]).size).toBe(3);
    expect(modelDigest(Uint8Array.from([1, 2, 4]), { inference: { centering: 'none' } })).not.toBe(plain);
  });

  it('is what loadEmbedder returns for a model folder, with a clear error for anything else', async () => {
    const embedder = await loadEmbedder(tinyModelFolder('none'));
    expect(embedder).toBeInstanceOf(ModelEmbedder);
    await embedder.close();
    await expect(loadEmbedder('/nonexistent/model')).rejects.toThrow(/no model folder there/);
    const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-broken-'));
    fs.writeFileSync(path.join(broken, 'config.json'), '{"format":"something-else"}');
    await expect(ModelEmbedder.open(broken)).rejects.toThrow(/not a twinshot model config/);
  }, 60_000);

  it('refuses a model whose images are framed in a way this version does not know', () => {
    const dir = tinyModelFolder('none');
    const file = path.join(dir, 'config.json');
    const card = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...card, preprocessing: { size: 28, invert: true, frame: 'ink' } }));
    expect(loadModelFolder(dir).card.preprocessing.frame).toBe('ink');
    fs.writeFileSync(file, JSON.stringify({ ...card, preprocessing: { size: 28, invert: true, frame: 'crop' } }));
    expect(() => loadModelFolder(dir)).toThrow(/preprocessing\.frame is "crop"; this version of twinshot knows 'image' and 'ink'/);
  });

  it('refuses a model asking for more test-time views than there are, naming the file', () => {
    const dir = tinyModelFolder('none');
    const file = path.join(dir, 'config.json');
    const card = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...card, inference: { centering: 'none', views: 4 } }));
    expect(loadModelFolder(dir).inference.settings.views).toBe(4);
    fs.writeFileSync(file, JSON.stringify({ ...card, inference: { centering: 'none', views: 12 } }));
    expect(() => loadModelFolder(dir)).toThrow(/config\.json: inference\.views is 12; it must be a whole number from 1 to 8/);
  });
});
