// Grad mode: the thread-local switch that decides whether libtorch records operations.
import { DTYPES } from './dtype.js';
import { ops } from './native.js';

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = ops.isGradEnabled() as boolean;
  ops.setGradEnabled(enabled);
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new TypeError('noGrad(fn)/enableGrad(fn): fn must be synchronous; grad mode cannot follow an await');
    }
    return result;
  } finally {
    ops.setGradEnabled(previous);
  }
}

/** Runs `fn` without recording operations for autograd (PyTorch's `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with autograd recording, even inside {@link noGrad}. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

export function isGradEnabled(): boolean {
  return ops.isGradEnabled() as boolean;
}

export function setGradEnabled(enabled: boolean): void {
  ops.setGradEnabled(enabled);
}

export type AutocastDeviceType = 'cpu' | 'cuda';

/**
 * Runs `fn` with automatic mixed precision (PyTorch's `torch.autocast`): inside it, libtorch runs
 * convolutions and matrix products in `dtype` (default bfloat16) and keeps precision-sensitive ops
 * in float32; gradients flow back through the casts. Like grad mode it is per thread, so it
 * applies to synchronous ops only. Cast what leaves the region to float32 before a loss that
 * subtracts large numbers (distances), as bfloat16 keeps only 8 bits of mantissa.
 *
 * @example
 * const codes = autocast(() => model.embed(images)).float(); // bfloat16 convolutions, float32 codes
 */
export function autocast<T>(
  fn: () => T,
  options: { deviceType?: AutocastDeviceType; dtype?: 'bfloat16' | 'float16' } = {},
): T {
  const deviceType = options.deviceType ?? 'cpu';
  const dtype = DTYPES[options.dtype ?? 'bfloat16'].code;
  const [wasEnabled, previousDtype] = ops.autocastEnter(deviceType, dtype) as number[];
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new TypeError('autocast(fn): fn must be synchronous; the precision mode cannot follow an await');
    }
    return result;
  } finally {
    ops.autocastExit(deviceType, wasEnabled === 1, previousDtype);
  }
}
