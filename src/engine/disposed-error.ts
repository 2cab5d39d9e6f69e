// The error for a tensor used after it was freed, naming the operation that tried and the tensor
// (its dtype and shape where they were known), so the mistake can be found without a debugger.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TwinshotError } from '../errors.js';

/** Our own source (src/ or dist/): frames there are twinshot's, the first named one is the operation. */
const packageCode = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Plumbing between the public call and the handle (argument unpacking, dispatch, callbacks). */
const PLUMBING =
  /^(?:Tensor\.)?(?:get handle|handles|handleOf|handleArg|tensorArg|optionalHandle|indexHandles|call|callMany|wrap|finish|sized|creation|disposedError|operationName)$|^<anonymous>$|^Array\.|^Object\.<anonymous>$/;

/**
 * The twinshot function the user called that needed the tensor, such as `matmul`, `toArray` or
 * `crossEntropy`: in the innermost of our files that holds more than plumbing, its outermost frame
 * (so `toArray` rather than the `data` it calls, and `crossEntropy` rather than `call`).
 */
function operationName(): string | null {
  let file: string | null = null;
  let name: string | null = null;
  for (const line of (new Error().stack ?? '').split('\n').slice(1)) {
    const frame = /^\s*at (?:async )?(.+?)(?: \[as \w+\])? \((.+?):\d+:\d+\)$/.exec(line);
    const where = frame ? path.resolve(frame[2]!.replace(/^file:\/\//, '')) : null;
    const ours = where !== null && where.startsWith(packageCode + path.sep);
    if (name !== null && (!ours || where !== file)) break;
    if (!ours || PLUMBING.test(frame![1]!)) continue;
    file = where;
    name = frame![1]!;
  }
  return name === null ? null : name.replace(/^(?:Tensor|Object|Module)\./, '').replace(/^get /, '');
}

/**
 * ERR_DISPOSED for a tensor whose handle is gone; `shape` and `dtype` are what the tensor had cached.
 * Built only on the error path, so reading the stack costs nothing in normal use.
 */
export function disposedError(shape: readonly number[] | undefined, dtype: string | undefined): TwinshotError {
  const op = operationName();
  const what =
    shape !== undefined || dtype !== undefined
      ? `a ${dtype ?? ''} tensor${shape ? ` [${shape.join(', ')}]` : ''}`.replace('  ', ' ')
      : 'a tensor';
  return new TwinshotError(
    'ERR_DISPOSED',
    `${op ? `${op}(): ` : ''}${what} was used after it was disposed, by dispose() or at the end of the tidy() that made it; ` +
      'return it from the tidy() (or keep() it) to use it afterwards',
  );
}
