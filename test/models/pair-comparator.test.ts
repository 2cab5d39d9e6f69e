import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualSeed, noGrad, rand, randn, tensor, tidy } from '../../src/engine/index.js';
import { EmbeddingNet } from '../../src/models/embedding-net.js';
import { PairComparator } from '../../src/models/pair-comparator.js';
import { InferenceModel } from '../../src/models/inference.js';
import { loadModelFolder, MODEL_FORMAT, saveModelFolder } from '../../src/models/model-folder.js';
import { validateConfig } from '../../src/training/config.js';
import { expectClose } from '../helpers/assert.js';
import { main } from '../../src/cli/index.js';
import { decodeImage } from '../../src/data/image.js';
import { glyphPng, tempDir } from '../data/helpers.js';
import { vi } from 'vitest';

const comparatorNet = () =>
  new EmbeddingNet({
    backbone: 'conv',
    channels: [8, 16, 16],
    inputSize: 20,
    distance: 'squared-euclidean',
    comparator: { block: 2, channels: 6, hidden: 12, useDistance: true },
  });

describe('PairComparator#compare()', () => {
  it('gives one logit per pair, the same either way round', () => {
    tidy(() => {
      manualSeed(3);
      const head = new PairComparator({ inChannels: 16, side: 5, channels: 6, hidden: 12, useDistance: true });
      noGrad(() => {
        head.distanceWeight.fill_(0.7);
        head.out.weight.normal_(0, 1); // it starts at zero (the embedding's answer); give it a say
      });
      head.eval();
      const a = head.project(randn([4, 16, 5, 5]));
      const b = head.project(randn([4, 16, 5, 5]));
      expect(a.shape).toEqual([4, 25 * 6]);
      expect(head.featureSize).toBe(150);
      const d = rand([4]);
      const ab = head.compare(a, b, d);
      expect(ab.shape).toEqual([4]);
      expectClose(ab, head.compare(b, a, d), { atol: 1e-5 });
      // The distance enters with its learned weight: farther pairs score lower by exactly that much.
      expectClose(head.compare(a, b, d.add(1)), ab.sub(0.7), { atol: 1e-5 });
    });
  });

  it('rejects sizes that are not positive integers', () => {
    expect(() => new PairComparator({ inChannels: 16, side: 0, channels: 6, hidden: 12, useDistance: false })).toThrow(
      /side must be a positive integer/,
    );
  });
});

describe('EmbeddingNet with a comparator', () => {
  it("reads the map after the configured block, from the embedding's own pass", () => {
    tidy(() => {
      manualSeed(4);
      const net = comparatorNet().eval();
      const images = rand([3, 1, 20, 20]);
      const { embedding, features } = net.embedWithFeatures(images);
      expectClose(embedding, net.embed(images));
      // block 2 of a 20x20 input: 5x5 locations of 6 channels
      expect(features!.shape).toEqual([3, 25 * 6]);
      expect(net.comparator!.locations).toBe(25);
    });
  });

  it("reads a block's map before its pooling when asked: four times the locations", () => {
    tidy(() => {
      manualSeed(7);
      const net = new EmbeddingNet({
        backbone: 'conv',
        channels: [8, 16, 16],
        inputSize: 20,
        comparator: { block: 2, channels: 6, hidden: 12, useDistance: true, beforePool: true },
      }).eval();
      const images = rand([2, 1, 20, 20]);
      const { embedding, features } = net.embedWithFeatures(images);
      expectClose(embedding, net.embed(images));
      expect(features!.shape).toEqual([2, 100 * 6]); // block 2 of a 20x20 input, before its pool: 10x10
    });
  });

  it('rejects a block the backbone does not have', () => {
    expect(
      () =>
        new EmbeddingNet({
          backbone: 'conv',
          channels: [8, 8],
          inputSize: 20,
          comparator: { block: 3, channels: 4, hidden: 4, useDistance: false },
        }),
    ).toThrow(/comparator.block must be a block number from 1 to 2; got 3/);
  });

  it('travels in a model folder and scores pairs the same after loading', () => {
    manualSeed(5);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-comparator-'));
    const net = comparatorNet().eval();
    const config = validateConfig({
      name: 'cmp',
      data: { size: 20 },
      model: { kind: 'embedding', channels: [8, 16, 16], comparator: { block: 2, channels: 6, hidden: 12 } },
      loss: { kind: 'prototypical' },
      sampler: { kind: 'episodes', way: 5, shot: 1, query: 1 },
      optimizer: { kind: 'adam', lr: 0.001, schedule: {} },
      training: { steps: 1 },
    });
    saveModelFolder(dir, net, {
      format: MODEL_FORMAT,
      version: 1,
      name: 'cmp',
      architecture: config.model,
      preprocessing: { size: 20, invert: true },
      verification: { threshold: 1, scale: 1, comparator: { threshold: 0.2, scale: 3 } },
      inference: { centering: 'none', rerank: 5 },
      metrics: {},
    });
    const loaded = loadModelFolder(dir);
    expect(loaded.inference.hasComparator).toBe(true);
    expect(loaded.inference.settings.rerank).toBe(5);
    tidy(() => {
      const images = rand([4, 1, 20, 20]);
      const before = new InferenceModel(net).encode(images);
      const after = loaded.inference.encode(images);
      expectClose(after.features!, before.features!);
      const d = tensor([0.5, 1, 2], { dtype: 'float32' });
      const pick = (t: typeof images, rows: number[]) => t.indexSelect(0, tensor(rows));
      expectClose(
        loaded.inference.compare(pick(after.features!, [0, 1, 2]), pick(after.features!, [1, 2, 3]), d),
        new InferenceModel(net).compare(pick(before.features!, [0, 1, 2]), pick(before.features!, [1, 2, 3]), d),
      );
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers `twinshot verify` by the comparator, at its own threshold', async () => {
    manualSeed(6);
    const dir = tempDir('twinshot-verify-');
    const net = comparatorNet().eval();
    const architecture = validateConfig({
      name: 'cmp',
      data: { size: 20 },
      model: { kind: 'embedding', channels: [8, 16, 16], comparator: { block: 2, channels: 6, hidden: 12 } },
      loss: { kind: 'prototypical' },
      sampler: { kind: 'episodes', way: 5, shot: 1, query: 1 },
      optimizer: { kind: 'adam', lr: 0.001, schedule: {} },
      training: { steps: 1 },
    }).model;
    saveModelFolder(dir, net, {
      format: MODEL_FORMAT,
      version: 1,
      name: 'cmp',
      architecture,
      preprocessing: { size: 20, invert: true },
      verification: { threshold: 1, scale: 1, comparator: { threshold: -1e6, scale: 2 } },
      inference: { centering: 'none' },
      metrics: {},
    });
    const a = path.join(dir, 'a.png');
    const b = path.join(dir, 'b.png');
    fs.writeFileSync(a, glyphPng(1, 0));
    fs.writeFileSync(b, glyphPng(2, 1));
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
    try {
      await main(['node', 'twinshot', 'verify', '--model', dir, a, b, '--json']);
    } finally {
      spy.mockRestore();
    }
    const answer = JSON.parse(lines.at(-1)!);
    expect(answer).toMatchObject({ scoredBy: 'comparator', threshold: -1e6, same: true });
    // The same logit as the library gives for the decoded images.
    const pixels = await Promise.all([a, b].map(async (f) => decodeImage(fs.readFileSync(f), { size: 20, invert: true })));
    const expected = tidy(() => {
      const inference = loadModelFolder(dir).inference;
      const images = tensor(Uint8Array.from([...pixels[0]!, ...pixels[1]!]), { shape: [2, 1, 20, 20] }).float().div(255);
      const codes = inference.encode(images);
      const e = codes.embedding;
      const d = inference.pairDistances(e.narrow(0, 0, 1), e.narrow(0, 1, 1));
      return inference.compare(codes.features!.narrow(0, 0, 1), codes.features!.narrow(0, 1, 1), d).item();
    });
    expect(answer.logit).toBeCloseTo(expected, 4);
  });

  it('answers encode() without features, and refuses compare(), when the model has no comparator', () => {
    tidy(() => {
      const plain = new InferenceModel(new EmbeddingNet({ backbone: 'conv', channels: [4], inputSize: 8 }));
      expect(plain.hasComparator).toBe(false);
      expect(plain.encode(rand([2, 1, 8, 8])).features).toBeNull();
      expect(() => plain.compare(rand([1, 4]), rand([1, 4]))).toThrow(/no pair comparator/);
    });
  });
});
