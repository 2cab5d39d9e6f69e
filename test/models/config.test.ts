import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateModelConfig } from '../../src/models/config.js';
import { readModelCard } from '../../src/models/model-folder.js';
import { validateConfig } from '../../src/training/config.js';

const repo = path.resolve(import.meta.dirname, '../..');

describe('validateModelConfig()', () => {
  it('fills the defaults of an embedding network, as a training config does for its model section', () => {
    const model = validateModelConfig({ kind: 'embedding' });
    expect(model).toEqual({
      kind: 'embedding',
      backbone: 'conv',
      channels: [64, 64, 64, 64],
      poolLast: true,
      globalPool: false,
      normalize: false,
      distance: 'squared-euclidean',
    });
    const config = JSON.parse(fs.readFileSync(path.join(repo, 'configs/omniglot-fast.json'), 'utf8'));
    expect(validateConfig(config).model).toEqual(validateModelConfig(config.model));
  });

  it('names the key and the kinds it knows', () => {
    expect(() => validateModelConfig({ kind: 'embedding', channels: [] }, 'net')).toThrow(/net is invalid:\n {2}\/channels/);
    expect(() => validateModelConfig({ kind: 'mlp' })).toThrow(/\/kind: must be one of "embedding", "koch2015", "ensemble"/);
  });
});

describe('readModelCard()', () => {
  it('reads the shipped model folders', () => {
    for (const name of ['omniglot-fast', 'omniglot-ensemble']) {
      expect(readModelCard(path.join(repo, 'models', name)).architecture.kind).toBeDefined();
    }
  });

  it('refuses a folder whose architecture does not validate, with ERR_MODEL and the key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-card-'));
    const card = JSON.parse(fs.readFileSync(path.join(repo, 'models/omniglot-fast/config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...card, architecture: { ...card.architecture, channels: 'x' } }));
    expect(() => readModelCard(dir)).toThrow(expect.objectContaining({ code: 'ERR_MODEL', message: expect.stringMatching(/architecture is invalid:\n.*\/channels/) }));
  });
});
