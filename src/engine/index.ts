// The engine's public surface: tensors, creation, autograd, scopes and runtime settings.
// Raw op calls (call, callMany, wrap) stay internal: they take handles and skip the argument
// checks of the Tensor methods. callAsync is public for pure ops only (the addon refuses others).
export {
  Tensor,
  callAsync,
  tensor,
  scalar,
  empty,
  zeros,
  ones,
  full,
  zerosLike,
  onesLike,
  fullLike,
  arange,
  linspace,
  eye,
  rand,
  randn,
  normal,
  randint,
  randperm,
  bernoulli,
  cat,
  stack,
  where,
  oneHot,
} from './tensor.js';
export type { Device, Scalar, TensorLike, NestedArray, TensorOptions } from './tensor.js';
export * from './autograd.js';
export * from './runtime.js';
export { tidy, keep, disposeAll } from './scope.js';
export type { DType, TypedArray } from './dtype.js';
export { DTYPES } from './dtype.js';
