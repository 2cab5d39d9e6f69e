// Grad mode: the thread-local switch that decides whether libtorch records operations.
import { ArgumentError } from '../errors.js';
import { functionArg, optionsArg, show } from './arguments.js';
import { DTYPES } from './dtype.js';
import { ops } from './native.js';

/** Runs `fn` between `enter` and `exit`; thread-local modes cannot follow an `await`, so `fn` must be synchronous. */
function inMode<T>(what: string, enter: () => void, exit: () => void, fn: () => T): T {
  functionArg(fn, what);
  enter();
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new TypeError(`${what}: fn must be synchronous; the mode cannot follow an await`);
    }
    return result;
  } finally {
    exit();
  }
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = ops.isGradEnabled() as boolean;
  return inMode(
    'noGrad(fn)/enableGrad(fn)',
    () => ops.setGradEnabled(enabled),
    () => ops.setGradEnabled(previous),
    fn,
  );
}

/** Runs `fn` without recording operations for autograd (PyTorch's `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, functionArg(fn, 'noGrad'));
}

/** Runs `fn` with autograd recording, even inside {@link noGrad}. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, functionArg(fn, 'enableGrad'));
}

export function isGradEnabled(): boolean {
  return ops.isGradEnabled() as boolean;
}

export function setGradEnabled(enabled: boolean): void {
  if (typeof enabled !== 'boolean')
    throw new ArgumentError(`setGradEnabled(): enabled must be a boolean; got ${show(enabled)}`);
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
  functionArg(fn, 'autocast');
  const { deviceType = 'cpu', dtype: dtypeName = 'bfloat16' } = optionsArg(options, 'autocast');
  if (deviceType !== 'cpu' && deviceType !== 'cuda') {
    throw new ArgumentError(`autocast(): deviceType must be 'cpu' or 'cuda'; got ${show(deviceType)}`);
  }
  if (dtypeName !== 'bfloat16' && dtypeName !== 'float16') {
    throw new ArgumentError(`autocast(): dtype must be 'bfloat16' or 'float16'; got ${show(dtypeName)}`);
  }
  const dtype = DTYPES[dtypeName].code;
  let previous: number[] = [];
  return inMode(
    'autocast(fn)',
    () => (previous = ops.autocastEnter(deviceType, dtype) as number[]),
    () => ops.autocastExit(deviceType, previous[0] === 1, previous[1]!),
    fn,
  );
}
