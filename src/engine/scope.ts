// Deterministic release of native memory: scopes collect every tensor created inside them and
// dispose those not returned, like tf.tidy. Garbage collection remains the fallback, and only
// tensors it must free (those outside every scope) report their bytes to V8.
import { ArgumentError } from '../errors.js';
import { functionArg, show } from './arguments.js';
import { native } from './native.js';
import type { Tensor } from './tensor.js';

const scopes: Set<Tensor>[] = [];

/** Called by every new Tensor: the innermost open scope adopts it, or V8 learns its size. */
export function trackTensor(tensor: Tensor): void {
  const scope = scopes[scopes.length - 1];
  if (scope) scope.add(tensor);
  else native.reportMemory(tensor.handle);
}

/** Takes a tensor out of every open scope so it survives them (parameters, caches). */
export function keep<T extends Tensor>(tensor: T): T {
  if (!isTensorCheck?.(tensor)) throw new ArgumentError(`keep(): expected a Tensor; got ${show(tensor)}`);
  for (const scope of scopes) scope.delete(tensor);
  if (!tensor.isDisposed) native.reportMemory(tensor.handle);
  return tensor;
}

function collectTensors(value: unknown, into: Set<Tensor>, isTensor: (v: unknown) => v is Tensor, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  if (isTensor(value)) {
    into.add(value);
  } else if (Array.isArray(value)) {
    for (const item of value) collectTensors(item, into, isTensor, depth + 1);
  } else if (value instanceof Map) {
    for (const item of value.values()) collectTensors(item, into, isTensor, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) collectTensors(item, into, isTensor, depth + 1);
  }
}

let isTensorCheck: ((v: unknown) => v is Tensor) | undefined;
/** tensor.ts registers its instanceof check here (avoids an import cycle). */
export function setTensorCheck(check: (v: unknown) => v is Tensor): void {
  isTensorCheck = check;
}

/**
 * Runs `fn`, then disposes every tensor it created except those in its result (a tensor, or
 * arrays, maps and plain objects holding tensors), which move to the enclosing scope.
 * `fn` must be synchronous: a Promise result would outlive the scope.
 *
 * @example
 * const loss = tidy(() => model.forward(x).sub(y).square().mean()); // intermediates freed
 */
export function tidy<T>(fn: () => T): T {
  functionArg(fn, 'tidy');
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const tensor of scope) tensor.dispose();
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) {
    throw new TypeError('tidy(fn): fn returned a Promise; tidy only supports synchronous functions');
  }
  const kept = new Set<Tensor>();
  if (isTensorCheck) collectTensors(result, kept, isTensorCheck);
  for (const tensor of scope) {
    if (kept.has(tensor)) trackTensor(tensor);
    else tensor.dispose();
  }
  return result;
}

/** Disposes tensors found in a value (a tensor, or arrays/objects of them). */
export function disposeAll(value: unknown): void {
  if (!isTensorCheck) return;
  const found = new Set<Tensor>();
  collectTensors(value, found, isTensorCheck);
  for (const tensor of found) tensor.dispose();
}
