// Checkpoints: model and optimiser tensors plus every counter and random state in ONE safetensors
// file, written to a temp name and renamed, so a crash or Ctrl-C mid-write keeps the last good one.
import fs from 'node:fs';
import { deserializeSafetensors, loadFile, saveFile } from '../io/safetensors.js';
import type { Tensor } from '../engine/tensor.js';
import { cuda, getRngState, setRngState } from '../engine/runtime.js';
import { TwinshotError } from '../errors.js';
import type { Module } from '../nn/module.js';
import type { Optimizer, OptimizerState } from '../optim/optimizer.js';
import type { RngState } from '../data/random.js';
import type { SamplerState } from '../data/samplers.js';

export interface TrainingProgress {
  step: number;
  seconds: number;
  bestAccuracy: number;
  bestStep: number;
  validationsWithoutImprovement: number;
  sampler: SamplerState;
  augmentRng: RngState;
  configHash: string;
  /** Updates of the weight average (training.ema), when there is one. */
  averageUpdates?: number;
  /** Ranks of a data-parallel run (absent: 1). */
  worldSize?: number;
  /** Each rank's own random streams, by rank, in a data-parallel run. */
  ranks?: RankState[];
}

/** What differs between the ranks of a data-parallel run: their batches and random draws. */
export interface RankState {
  sampler: SamplerState;
  augmentRng: RngState;
  /** libtorch's CPU generator state, base64. */
  torchRng: string;
}

export function saveCheckpoint(
  path: string,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
  progress: TrainingProgress,
  average?: Module,
): void {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of model.stateDict()) tensors.set(`model.${name}`, t);
  if (average) for (const [name, t] of average.stateDict()) tensors.set(`average.${name}`, t);
  const optimizerState = optimizer.stateDict();
  for (const [name, t] of optimizerState.tensors) tensors.set(`optimizer.${name}`, t);
  const rngStates = [getRngState(), ...cuda.getRngStateAll()];
  rngStates.forEach((state, i) => tensors.set(i === 0 ? CPU_RNG : `${CUDA_RNG}${i - 1}`, state));
  try {
    saveFile(tensors, path, { twinshot: JSON.stringify({ progress, optimizer: optimizerState.meta }) });
  } finally {
    for (const state of rngStates) state.dispose();
  }
}

// Random states: the CPU generator's, and each GPU's (cuda:0, cuda:1, ...) when trained with CUDA,
// so that dropout and random initialisation on the GPU also resume where they stopped.
const CPU_RNG = 'torch_rng_state';
const CUDA_RNG = 'torch_cuda_rng_state.';

/** Restores the saved generators; a GPU state for a device this machine lacks is left unused. */
function restoreRngStates(tensors: ReadonlyMap<string, Tensor>): void {
  const cpu = tensors.get(CPU_RNG);
  if (cpu) setRngState(cpu);
  const gpus = cuda.isAvailable() ? cuda.deviceCount() : 0;
  for (const [name, state] of tensors) {
    if (!name.startsWith(CUDA_RNG)) continue;
    const index = Number(name.slice(CUDA_RNG.length));
    if (Number.isInteger(index) && index >= 0 && index < gpus) setRngState(state, `cuda:${index}`);
  }
}

export function checkpointExists(path: string): boolean {
  return fs.existsSync(path);
}

/**
 * Restores model, optimiser, weight average (when given) and torch's generators in place from a
 * checkpoint file (or its bytes, as rank 0 sends them to the other ranks); returns the saved progress.
 */
export function loadCheckpoint(
  source: string | Uint8Array,
  model: Module,
  optimizer: Optimizer<{ lr: number }>,
  average?: Module,
): TrainingProgress {
  const path = typeof source === 'string' ? source : 'the checkpoint';
  const { tensors, metadata } = typeof source === 'string' ? loadFile(source) : deserializeSafetensors(source);
  let saved: { progress: TrainingProgress; optimizer: OptimizerState['meta'] };
  try {
    saved = JSON.parse(metadata.twinshot ?? '');
  } catch {
    throw new TwinshotError('ERR_FORMAT', `${path} is not a twinshot checkpoint (no training state in its metadata)`);
  }
  const modelState = new Map<string, Tensor>();
  const optimizerTensors = new Map<string, Tensor>();
  const averageState = new Map<string, Tensor>();
  for (const [name, t] of tensors) {
    if (name.startsWith('model.')) modelState.set(name.slice(6), t);
    else if (name.startsWith('optimizer.')) optimizerTensors.set(name.slice(10), t);
    else if (name.startsWith('average.')) averageState.set(name.slice(8), t);
  }
  model.loadStateDict(modelState);
  if (average) {
    if (averageState.size === 0) {
      throw new TwinshotError('ERR_FORMAT', `${path} holds no weight average; resume with the config it was made with`);
    }
    average.loadStateDict(averageState);
  }
  optimizer.loadStateDict({ tensors: optimizerTensors, meta: saved.optimizer });
  restoreRngStates(tensors);
  for (const t of tensors.values()) t.dispose();
  return saved.progress;
}
