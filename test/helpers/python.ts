// The PyTorch oracle: runs a Python snippet under Debian's python3-torch with named input tensors
// and returns the tensors it produces, exchanged as safetensors files.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFile, saveFile } from '../../src/io/safetensors.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { PYTHON } from './prerequisites.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ioModule = path.resolve(here, '../fixtures/python');

/**
 * Runs `code` with `inputs` (a dict of torch tensors named like the map) and `torch`, `F`
 * in scope; the code must fill the dict `outputs`. Returns those tensors.
 */
export function runTorch(code: string, inputs: Record<string, Tensor> = {}): Record<string, Tensor> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-oracle-'));
  try {
    const inPath = path.join(dir, 'in.safetensors');
    const outPath = path.join(dir, 'out.safetensors');
    saveFile(inputs, inPath);
    const script = [
      'import sys, torch',
      'import torch.nn.functional as F',
      `sys.path.insert(0, ${JSON.stringify(ioModule)})`,
      'import safetensors_io as st',
      'torch.manual_seed(0)',
      `inputs = st.load(${JSON.stringify(inPath)})`,
      'outputs = {}',
      code,
      `st.save({k: v.detach().contiguous() for k, v in outputs.items()}, ${JSON.stringify(outPath)})`,
    ].join('\n');
    const result = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`python oracle failed:\n${result.stderr}`);
    return Object.fromEntries(loadFile(outPath).tensors);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
