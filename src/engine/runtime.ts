// Process-wide settings: random seed and generator state, threads, devices, versions.
import fs from 'node:fs';
import { ArgumentError } from '../errors.js';
import { native, ops, type Handle } from './native.js';
import { Tensor, wrap } from './tensor.js';

/** Seeds libtorch's default generators (CPU and CUDA), like `torch.manual_seed`. */
export function manualSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new ArgumentError(`manualSeed(): seed must be a non-negative integer; got ${seed}`);
  ops.manualSeed(seed);
}

/** The CPU generator's state as a uint8 tensor, for exact resumption. */
export function getRngState(): Tensor {
  return wrap(ops.getRngState() as Handle);
}

export function setRngState(state: Tensor): void {
  ops.setRngState(state.handle);
}

/** Sets the number of threads libtorch uses inside each op. */
export function setNumThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1)
    throw new ArgumentError(`setNumThreads(): threads must be an integer >= 1; got ${threads}`);
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
