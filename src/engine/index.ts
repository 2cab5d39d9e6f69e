// The engine's public surface: tensors, creation, autograd, scopes and runtime settings.
export * from './tensor.js';
export * from './autograd.js';
export * from './runtime.js';
export { tidy, keep, disposeAll } from './scope.js';
export type { DType, TypedArray } from './dtype.js';
export { DTYPES } from './dtype.js';
