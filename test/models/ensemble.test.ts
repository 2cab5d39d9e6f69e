import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualSeed, rand, noGrad } from '../../src/engine/index.js';
import { EmbeddingNet } from '../../src/models/embedding-net.js';
import { EnsembleNet } from '../../src/models/ensemble.js';
import { buildModel } from '../../src/models/factory.js';
import { saveModule, loadModule } from '../../src/io/safetensors.js';
import * as F from '../../src/nn/functional.js';
import { MODEL_FORMAT, saveModelFolder } from '../../src/models/model-folder.js';
import { buildEnsemble } from '../../src/training/ensemble.js';
import { loadConfig } from '../../src/training/config.js';
import { expectClose } from '../helpers/assert.js';
import { needs, OMNIGLOT } from '../helpers/prerequisites.js';

describe('EnsembleNet', () => {
  it('concatenates unit-length member codes, so distances are the RMS of member distances', () => {
    manualSeed(2);
    const a = new EmbeddingNet({ backbone: 'conv', channels: [8, 8], inputSize: 16 });
    const b = new EmbeddingNet({ backbone: 'conv', channels: [4, 6], inputSize: 16, embeddingDim: 5 });
    const ensemble = new EnsembleNet([a, b]).eval();
    const x = rand([3, 1, 16, 16]);
    const y = rand([4, 1, 16, 16]);
    noGrad(() => {
      const ex = ensemble.embed(x);
      expect(ex.shape).toEqual([3, 8 * 4 * 4 + 5]);
      expectClose(ex.norm(2, 1), [1, 1, 1], { atol: 1e-5 });
      const member = (m: EmbeddingNet) => F.normalize(m.embed(x)).cdist(F.normalize(m.embed(y)));
      const rms = member(a).square().add(member(b).square()).div(2).sqrt();
      expectClose(ensemble.distanceMatrix(ex, ensemble.embed(y)), rms, { atol: 1e-4 });
    });
  });

  it('is built from its config and saved and loaded under member names', () => {
    manualSeed(3);
    const member = { kind: 'embedding' as const, backbone: 'conv' as const, channels: [4], poolLast: true, globalPool: false, normalize: false, distance: 'euclidean' as const };
    const built = buildModel({ kind: 'ensemble', members: [member, member] }, 8) as EnsembleNet;
    expect(built.members).toHaveLength(2);
    expect([...built.stateDict().keys()]).toContain('member1.backbone.blocks.0.0.weight');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-ens-')), 'e.safetensors');
    saveModule(built, file);
    const again = buildModel({ kind: 'ensemble', members: [member, member] }, 8) as EnsembleNet;
    loadModule(again, file);
    const x = rand([2, 1, 8, 8]);
    noGrad(() => expectClose(again.eval().embed(x), built.eval().embed(x), { atol: 1e-6 }));
  });
});

describe('buildEnsemble', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-ens-build-'));
  const member = (name: string, validationSeed: number, overrides: Record<string, unknown> = {}): string => {
    const config = loadConfig('configs/omniglot-fast.json', { 'data.validationSeed': validationSeed, ...overrides });
    const dir = path.join(root, name);
    saveModelFolder(dir, buildModel(config.model, config.data.size), {
      format: MODEL_FORMAT,
      version: 1,
      name,
      architecture: config.model,
      preprocessing: { size: config.data.size, invert: config.data.invert, frame: config.data.frame },
      verification: { threshold: 1, scale: 1 },
      inference: { centering: 'none' },
      training: { config, steps: 1, seconds: 1, machine: 'test', finishedAt: new Date(0).toISOString() },
      metrics: {},
    });
    return dir;
  };

  it('refuses members that held out different validation groups, before reading any data', async () => {
    const a = member('a', 1);
    const b = member('b', 2);
    const out = path.join(root, 'out');
    await expect(buildEnsemble([a, b], out)).rejects.toMatchObject({
      code: 'ERR_MODEL',
      message: expect.stringMatching(/not trained on the same split/),
    });
    expect(fs.existsSync(out)).toBe(false);
  });

  needs(OMNIGLOT).it(
    'joins members trained on every alphabet, fitting the threshold on training pairs and saying so',
    async () => {
      const everyAlphabet = { 'data.validationGroups': 0, 'data.size': 20, 'model.channels': [8, 8] };
      const out = path.join(root, 'all');
      const result = await buildEnsemble([member('d', 1, everyAlphabet), member('e', 1, everyAlphabet)], out);
      expect(result.validation).toBeNull();
      const card = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
      expect(Object.keys(card.metrics)).toEqual(['trainingVerification']);
      expect(card.metrics.trainingVerification.pairs).toBe(2000);
      expect(Number.isFinite(card.verification.threshold)).toBe(true);
    },
    120_000,
  );

  it('needs at least two members', async () => {
    await expect(buildEnsemble([member('c', 1)], path.join(root, 'out1'))).rejects.toMatchObject({
      code: 'ERR_ARGUMENT',
    });
  });
});
