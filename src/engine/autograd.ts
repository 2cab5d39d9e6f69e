// Grad mode: the thread-local switch that decides whether libtorch records operations.
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
