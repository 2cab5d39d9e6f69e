import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  loadModelFolder,
  readModelCard,
  resolveModelFolder,
  SHIPPED_MODELS,
} from '../../src/models/model-folder.js';

const repo = path.resolve(import.meta.dirname, '../..');
const startDir = process.cwd();
afterEach(() => process.chdir(startDir));

describe('SHIPPED_MODELS', () => {
  it('are absolute paths to the model folders in the package', () => {
    expect(SHIPPED_MODELS.omniglotFast).toBe(path.join(repo, 'models/omniglot-fast'));
    for (const dir of Object.values(SHIPPED_MODELS)) expect(readModelCard(dir).format).toBe('twinshot-model');
  });
});

describe('resolveModelFolder()', () => {
  it("finds a shipped model by the README's relative path or its name, from any folder", () => {
    process.chdir(fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-elsewhere-')));
    expect(resolveModelFolder('models/omniglot-fast')).toBe(SHIPPED_MODELS.omniglotFast);
    expect(resolveModelFolder('omniglot-ensemble')).toBe(SHIPPED_MODELS.omniglotEnsemble);
    const { card, dir } = loadModelFolder('models/omniglot-fast');
    expect(dir).toBe(SHIPPED_MODELS.omniglotFast);
    expect(card.preprocessing.size).toBe(40);
  });

  it('prefers a model folder at the given path, and leaves anything else for readModelCard to explain', () => {
    const here = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-own-'));
    fs.mkdirSync(path.join(here, 'models/omniglot-fast'), { recursive: true });
    fs.copyFileSync(path.join(SHIPPED_MODELS.omniglotFast, 'config.json'), path.join(here, 'models/omniglot-fast/config.json'));
    process.chdir(here);
    expect(resolveModelFolder('models/omniglot-fast')).toBe('models/omniglot-fast');
    expect(resolveModelFolder('models/none')).toBe('models/none');
    expect(resolveModelFolder('../models/omniglot-fast')).toBe('../models/omniglot-fast');
    expect(() => readModelCard('models/none')).toThrow(
      expect.objectContaining({ code: 'ERR_MODEL', message: expect.stringMatching(/models\/none.*does not exist/) }),
    );
  });
});
