// Loads the libtorch addon, says how to fix a failed load, and sets the default thread count.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ArgumentError, TorchError, TwinshotError } from '../errors.js';
import type { OpName } from './op-names.js';

/** An opaque reference to one libtorch tensor, owned by a {@link Tensor}. */
export type Handle = { readonly __brand: 'TensorHandle' };
export type NativeArg =
  Handle | number | boolean | string | null | undefined | readonly number[] | Float64Array | readonly (Handle | null)[];
export type NativeResult = Handle | Handle[] | number | boolean | number[] | string | null | undefined;
type NativeOp = (...args: NativeArg[]) => NativeResult;

export interface NativeAddon {
  ops: Record<OpName, NativeOp>;
  runAsync(op: string, ...args: NativeArg[]): Promise<NativeResult>;
  fromBuffer(view: ArrayBufferView | ArrayBuffer, shape: readonly number[], dtype: number): Handle;
  toBuffer(handle: Handle): ArrayBuffer;
  dispose(handle: Handle): void;
  isDisposed(handle: Handle): boolean;
  /** Whether `value` is a tensor handle of this addon (checked by its type tag), disposed or not. */
  isHandle(value: unknown): value is Handle;
  /** Handles alive in this thread: not yet garbage-collected, and of those, not yet disposed. */
  liveHandles(): { handles: number; tensors: number };
  externalMemory(): number;
  /** Reports the tensor's host bytes to V8 (once), for tensors left to garbage collection. */
  reportMemory(handle: Handle): void;
  info(): {
    torchVersion: string;
    cudaAvailable: boolean;
    cudaDeviceCount: number;
    numThreads: number;
    parallelInfo: string;
  };
  setErrorFactory(factory: (code: NativeErrorCode, op: string, message: string) => Error): void;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const addonPath = path.resolve(here, '../../native/build/Release/twinshot_native.node');

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  try {
    return require(addonPath) as NativeAddon;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const hint = !fs.existsSync(addonPath)
      ? 'The addon was not built. Run `npm run build:native` (it installs libtorch-dev with apt when run as root).'
      : /libtorch|libc10|\.so/.test(reason)
        ? 'libtorch could not be found at run time. Install it (`sudo apt-get install libtorch-dev`) or set LIBTORCH to the folder the addon was built against, then `npm run build:native`.'
        : 'Rebuild the addon with `npm run build:native`.';
    throw new TwinshotError('ERR_NATIVE_LOAD', `could not load ${addonPath}: ${reason}\n${hint}`);
  }
}

export const native: NativeAddon = load();
/** The codes the addon gives its errors (native/src/addon.cc, DescribeException). */
export type NativeErrorCode = 'ERR_TORCH' | 'ERR_ARGUMENT' | 'ERR_DISPOSED';

// Every error the addon throws is built here, so it is a TwinshotError with a catalog code and
// the op's name, whatever the C++ side caught.
native.setErrorFactory((code, op, message) => {
  const error =
    code === 'ERR_ARGUMENT'
      ? new ArgumentError(message)
      : code === 'ERR_DISPOSED'
        ? new TwinshotError('ERR_DISPOSED', message)
        : new TorchError(message);
  return Object.assign(error, { op });
});

/** The libtorch ops, as exported by the addon's op table. */
export const ops = native.ops;

// libtorch starts with one thread in some builds; use every core unless told otherwise, as
// PyTorch does. TWINSHOT_NUM_THREADS overrides (useful beside other busy processes).
const requestedThreads = Number(process.env.TWINSHOT_NUM_THREADS ?? os.availableParallelism());
if (Number.isInteger(requestedThreads) && requestedThreads > 0) {
  ops.setNumThreads(Math.min(requestedThreads, 4 * os.availableParallelism()));
}
