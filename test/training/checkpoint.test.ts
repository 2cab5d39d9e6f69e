import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cuda, getRngState, manualSeed, rand, zeros } from '../../src/engine/index.js';
import { loadFile, saveFile } from '../../src/io/safetensors.js';
import { Linear } from '../../src/nn/layers.js';
import { SGD } from '../../src/optim/sgd.js';
import { loadCheckpoint, saveCheckpoint, type TrainingProgress } from '../../src/training/checkpoint.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinshot-checkpoint-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const progress: TrainingProgress = {
  step: 3,
  seconds: 1,
  bestAccuracy: 0,
  bestStep: 0,
  validationsWithoutImprovement: 0,
  sampler: { kind: 'test' } as unknown as TrainingProgress['sampler'],
  augmentRng: { state: [1, 2, 3, 4] } as unknown as TrainingProgress['augmentRng'],
  configHash: 'x',
};

describe('saveCheckpoint() / loadCheckpoint()', () => {
  it("restores torch's generators: the draws after loading repeat those after saving", () => {
    manualSeed(5);
    const model = new Linear(3, 2);
    const file = path.join(dir, 'rng.safetensors');
    saveCheckpoint(file, model, new SGD(model, { lr: 0.1 }), progress);
    const afterSave = rand([4]).toArray();
    rand([7]); // move the generator on
    loadCheckpoint(file, model, new SGD(model, { lr: 0.1 }));
    expect(rand([4]).toArray()).toEqual(afterSave);
  });

  it('saves one generator state per visible GPU, none without CUDA', () => {
    const model = new Linear(3, 2);
    const file = path.join(dir, 'devices.safetensors');
    saveCheckpoint(file, model, new SGD(model, { lr: 0.1 }), progress);
    const { tensors } = loadFile(file);
    const names = [...tensors.keys()].filter((name) => name.startsWith('torch_'));
    const gpus = cuda.isAvailable() ? cuda.deviceCount() : 0;
    expect(names.sort()).toEqual([
      'torch_rng_state',
      ...Array.from({ length: gpus }, (_, i) => `torch_cuda_rng_state.${i}`),
    ]);
    for (const t of tensors.values()) t.dispose();
  });

  it('resumes a checkpoint written with GPUs on a machine without them', () => {
    const model = new Linear(3, 2);
    const file = path.join(dir, 'gpu-made.safetensors');
    saveCheckpoint(file, model, new SGD(model, { lr: 0.1 }), progress);
    // The file as a CUDA machine writes it: GPU states beside the CPU one (cuda:7 exists nowhere here).
    const { tensors, metadata } = loadFile(file);
    const saved = tensors.get('torch_rng_state')!.toArray();
    tensors.set('torch_cuda_rng_state.7', zeros([16], { dtype: 'uint8' }));
    saveFile(tensors, file, metadata);
    manualSeed(1);
    expect(getRngState().toArray()).not.toEqual(saved);
    const restored = loadCheckpoint(file, model, new SGD(model, { lr: 0.1 }));
    expect(restored.step).toBe(3);
    expect(getRngState().toArray()).toEqual(saved); // the CPU state restored, the GPU one left unused
    for (const t of tensors.values()) t.dispose();
  });
});
