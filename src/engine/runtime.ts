// Process-wide settings: random seed and generator state, threads, devices, versions.
import fs from 'node:fs';
import os from 'node:os';
import { ArgumentError } from '../errors.js';
import { show } from './arguments.js';
import { native, ops, type Handle } from './native.js';
import { Tensor, wrap, type Device } from './tensor.js';

/** Seeds libtorch's default generators (CPU and CUDA), like `torch.manual_seed`. */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new ArgumentError(`manualSeed(): seed must be a non-negative integer; got ${show(seed)}`);
  ops.manualSeed(seed);
}

function generatorDevice(op: string, device: Device): Device {
  if (typeof device !== 'string' || !/^(cpu|cuda(:\d+)?)$/.test(device)) {
    throw new ArgumentError(`${op}(): device must be 'cpu', 'cuda' or 'cuda:N'; got ${show(device)}`);
  }
  return device;
}

/**
 * The state of a device's default random generator as a uint8 tensor, for exact resumption
 * (PyTorch's `torch.get_rng_state()`, or `torch.cuda.get_rng_state(device)` for a GPU).
 * @throws ArgumentError for a CUDA device that does not exist
 */
export function getRngState(device: Device = 'cpu'): Tensor {
  return wrap(ops.getRngState(generatorDevice('getRngState', device)) as Handle);
}

/** Restores a state from {@link getRngState} on the same kind of device. */
export function setRngState(state: Tensor, device: Device = 'cpu'): void {
  if (!(state instanceof Tensor)) throw new ArgumentError('setRngState(): state must be a Tensor from getRngState()');
  ops.setRngState(state.handle, generatorDevice('setRngState', device));
}

/**
 * Tensors the engine holds in this thread, for finding leaks: `tensors` counts handles neither
 * disposed nor garbage-collected, `handles` also those disposed but not yet collected, and
 * `externalBytes` what was reported to V8 (tensors outside every scope).
 * @example const before = memoryStats().tensors; step(); expect(memoryStats().tensors).toBe(before);
 */
export function memoryStats(): { tensors: number; handles: number; externalBytes: number } {
  const { tensors, handles } = native.liveHandles();
  return { tensors, handles, externalBytes: native.externalMemory() };
}

/** Sets the number of threads libtorch uses inside each op (1 to 4 per core). */
export function setNumThreads(threads: number): void {
  const most = 4 * os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > most)
    throw new ArgumentError(`setNumThreads(): threads must be an integer from 1 to ${most}; got ${show(threads)}`);
  ops.setNumThreads(threads);
}

export function getNumThreads(): number {
  return ops.getNumThreads() as number;
}

export const cuda = {
  isAvailable(): boolean {
    return native.info().cudaAvailable;
  },
  deviceCount(): number {
    return native.info().cudaDeviceCount;
  },
  /** Waits for queued GPU work (no-op without CUDA); needed before timing GPU code. */
  synchronize(): void {
    ops.cudaSynchronize();
  },
  /** Every visible GPU's generator state, in device order (empty without CUDA). */
  getRngStateAll(): Tensor[] {
    return Array.from({ length: cuda.isAvailable() ? cuda.deviceCount() : 0 }, (_, i) => getRngState(`cuda:${i}`));
  },
  /** Restores states from {@link cuda.getRngStateAll}, one per device from cuda:0 on. */
  setRngStateAll(states: readonly Tensor[]): void {
    if (!Array.isArray(states))
      throw new ArgumentError(`cuda.setRngStateAll(): states must be an array; got ${show(states)}`);
    states.forEach((state, i) => setRngState(state, `cuda:${i}`));
  },
};

/** The best device here: 'cuda' when libtorch was built with CUDA and a GPU is visible. */
export function defaultDevice(): 'cpu' | 'cuda' {
  return cuda.isAvailable() ? 'cuda' : 'cpu';
}

export function engineInfo(): ReturnType<typeof native.info> {
  return native.info();
}

let bfloat16Cpu: boolean | undefined;
/**
 * Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX), where mixed precision speeds
 * training up; elsewhere libtorch emulates bfloat16 and float32 is faster. Linux only (reads
 * /proc/cpuinfo); false where that cannot be read.
 */
export function cpuHasBfloat16(): boolean {
  if (bfloat16Cpu === undefined) {
    try {
      bfloat16Cpu = /\b(avx512_bf16|amx_bf16)\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      bfloat16Cpu = false;
    }
  }
  return bfloat16Cpu;
}
