// Tensor: a PyTorch-shaped TypeScript view of one libtorch tensor, and the functions that create them.
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { dimsArg, optionsArg, show } from './arguments.js';
import { DTYPES, dtypeFromCode, dtypeOfArray, isDType, type DType, type TypedArray } from './dtype.js';
import { native, ops, type Handle, type NativeArg } from './native.js';
import type { OpName } from './op-names.js';
import { setTensorCheck, trackTensor } from './scope.js';
import { disposedError } from './disposed-error.js';

export type Device = 'cpu' | 'cuda' | `cuda:${number}`;
export type Scalar = number;
export type TensorLike = Tensor | number;
/** Nested arrays of numbers or booleans, as accepted by {@link tensor}. */
export type NestedArray = number | boolean | NestedArray[];

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}

function handleOf(value: TensorLike, op: string, name: string): Handle | number {
  if (value instanceof Tensor) return value.handle;
  if (typeof value === 'number') return value;
  throw new ArgumentError(`${op}(): ${name} must be a Tensor or a number; got ${show(value)}`);
}

/** A tensor argument, checked (a plain object or null would otherwise fail deep inside). */
export function tensorArg(value: Tensor, op: string, name: string): Tensor {
  if (value instanceof Tensor) return value;
  throw new ArgumentError(`${op}(): ${name} must be a Tensor; got ${show(value)}`);
}

/** The handle of a tensor argument. */
export function handleArg(value: Tensor, op: string, name: string): Handle {
  return tensorArg(value, op, name).handle;
}

/** The handle of an optional tensor argument (null or undefined: none). */
export function optionalHandle(value: Tensor | null | undefined, op: string, name: string): Handle | null {
  return value === null || value === undefined ? null : handleArg(value, op, name);
}

function normaliseDim(dim: number, rank: number, what = 'dim'): number {
  if (!Number.isInteger(dim) || dim < -Math.max(rank, 1) || dim >= Math.max(rank, 1)) {
    throw new ArgumentError(`${what} ${show(dim)} is out of range for a tensor with ${rank} dimensions`);
  }
  return dim < 0 ? dim + Math.max(rank, 1) : dim;
}

/** Calls one op from the addon's table and wraps the tensor it returns. */
export function call(op: OpName, ...args: NativeArg[]): Tensor {
  return wrap(ops[op](...args) as Handle);
}

/** Calls one op that returns several tensors (values and indices, split, ...). */
export function callMany(op: OpName, ...args: NativeArg[]): Tensor[] {
  return (ops[op](...args) as Handle[]).map(wrap);
}

/**
 * Runs one op on libuv's thread pool; the event loop stays free while libtorch works. Only ops
 * that change nothing in place are allowed (others reject with ERR_ARGUMENT); the inputs are
 * detached, so the result has no autograd history, and autocast follows the caller.
 * @example const d = await callAsync('cdist', queries.handle, rows.handle, 2);
 * @throws ArgumentError for a bad op name or arguments, TorchError when libtorch rejects the op
 */
export async function callAsync(op: OpName, ...args: NativeArg[]): Promise<Tensor> {
  return wrap((await native.runAsync(op, ...args)) as Handle);
}

export function wrap(handle: Handle): Tensor {
  return new Tensor(handle);
}

/**
 * One libtorch tensor. Operations return new tensors (or `this` for in-place ops ending in `_`).
 * Native memory is freed by {@link Tensor.dispose}, by an enclosing `tidy()`, or at garbage collection.
 */
export class Tensor {
  #handle: Handle | null;
  #shape: readonly number[] | undefined;
  #dtype: DType | undefined;

  /** Wraps an engine handle; user code creates tensors with {@link tensor}, {@link zeros} and the like. */
  constructor(handle: Handle) {
    if (!native.isHandle(handle)) {
      throw new ArgumentError(
        `Tensor: expected an engine handle, got ${show(handle)}; create tensors with tensor(), zeros() and the like`,
      );
    }
    this.#handle = handle;
    trackTensor(this);
  }

  /** The addon handle; throws once the tensor is disposed. */
  get handle(): Handle {
    if (this.#handle === null) throw disposedError(this.#shape, this.#dtype);
    return this.#handle;
  }

  // ---- properties ------------------------------------------------------------------------

  get shape(): readonly number[] {
    this.#shape ??= Object.freeze(ops.shape(this.handle) as number[]);
    return this.#shape;
  }
  get ndim(): number {
    return this.shape.length;
  }
  get dtype(): DType {
    this.#dtype ??= dtypeFromCode(ops.dtype(this.handle) as number);
    return this.#dtype;
  }
  get device(): string {
    return ops.device(this.handle) as string;
  }
  get isCuda(): boolean {
    return this.device.startsWith('cuda');
  }
  numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  size(dim?: number): number | readonly number[] {
    if (dim === undefined) return this.shape;
    return this.shape[normaliseDim(dim, this.ndim, 'size(): dim')]!;
  }
  get isFloating(): boolean {
    return DTYPES[this.dtype].isFloating;
  }
  get isDisposed(): boolean {
    return this.#handle === null || native.isDisposed(this.#handle);
  }
  isContiguous(): boolean {
    return ops.isContiguous(this.handle) as boolean;
  }

  /**
   * Makes this tensor refer to `source`'s data (shape and dtype may change), keeping its identity
   * and autograd flags, like PyTorch's `param.data = source`. Used to move parameters in place.
   */
  setData(source: Tensor): this {
    ops.setData(this.handle, handleArg(source, 'setData', 'source'));
    this.#shape = undefined;
    this.#dtype = undefined;
    return this;
  }

  // ---- lifetime ----------------------------------------------------------------------------

  /** Frees the native tensor now. Views and autograd graphs that share it keep their own reference. */
  dispose(): void {
    if (this.#handle === null) return;
    native.dispose(this.#handle);
    this.#handle = null;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- reading values ----------------------------------------------------------------------

  /** A copy of the elements in row-major order (BigInt64Array for int64, Uint8Array for bool). */
  data(): TypedArray {
    return new DTYPES[this.dtype].array(native.toBuffer(this.handle));
  }
  /** The elements as a flat array of numbers (booleans as 0/1). */
  toArray(): number[] {
    const data = this.data();
    return data instanceof BigInt64Array ? Array.from(data, Number) : Array.from(data as ArrayLike<number>);
  }
  /** The elements as nested arrays, like PyTorch's `tolist()`. */
  tolist(): NestedArray {
    const flat: (number | boolean)[] = this.dtype === 'bool' ? this.toArray().map(Boolean) : this.toArray();
    if (this.ndim === 0) return flat[0]!;
    const build = (dim: number, offset: number): NestedArray[] => {
      const size = this.shape[dim]!;
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      const out: NestedArray[] = [];
      for (let i = 0; i < size; i++) {
        out.push(dim === this.ndim - 1 ? flat[offset + i]! : build(dim + 1, offset + i * stride));
      }
      return out;
    };
    return build(0, 0);
  }
  /** The value of a one-element tensor. */
  item(): number {
    if (this.numel() !== 1)
      throw new ShapeError(`item(): tensor must have one element; it has shape [${this.shape.join(', ')}]`);
    return ops.item(this.handle) as number;
  }
  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, device=${this.device})`;
  }

  // ---- conversion ----------------------------------------------------------------------------

  /** Converts to a dtype and/or device; returns a new tensor (PyTorch returns self when unchanged). */
  to(target: DType | Device | { dtype?: DType; device?: Device }): Tensor {
    const options =
      typeof target === 'string'
        ? isDType(target)
          ? { dtype: target }
          : { device: target }
        : optionsArg(target, 'to', 'target');
    if (options.dtype !== undefined && !isDType(options.dtype))
      throw new DTypeError(`to(): unknown dtype ${show(options.dtype)}; use one of ${Object.keys(DTYPES).join(', ')}`);
    if (options.device !== undefined && typeof options.device !== 'string')
      throw new ArgumentError(`to(): device must be a string such as 'cpu' or 'cuda:0'; got ${show(options.device)}`);
    return call(
      'to',
      this.handle,
      options.dtype === undefined ? null : DTYPES[options.dtype].code,
      options.device ?? null,
    );
  }
  cpu(): Tensor {
    return this.to({ device: 'cpu' });
  }
  cuda(index = 0): Tensor {
    if (!Number.isInteger(index) || index < 0) {
      throw new ArgumentError(`cuda(): index must be an integer >= 0; got ${show(index)}`);
    }
    return this.to({ device: `cuda:${index}` });
  }
  float(): Tensor {
    return this.to({ dtype: 'float32' });
  }
  double(): Tensor {
    return this.to({ dtype: 'float64' });
  }
  long(): Tensor {
    return this.to({ dtype: 'int64' });
  }
  int(): Tensor {
    return this.to({ dtype: 'int32' });
  }
  bool(): Tensor {
    return this.to({ dtype: 'bool' });
  }
  clone(): Tensor {
    return call('clone', this.handle);
  }
  contiguous(): Tensor {
    return call('contiguous', this.handle);
  }
  /** The same data, cut off from the autograd graph. */
  detach(): Tensor {
    return call('detach', this.handle);
  }

  // ---- autograd ------------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return ops.requiresGrad(this.handle) as boolean;
  }
  /** Marks a leaf tensor as needing gradients; returns `this`. */
  requiresGrad_(flag = true): this {
    ops.setRequiresGrad(this.handle, flag);
    return this;
  }
  get isLeaf(): boolean {
    return ops.isLeaf(this.handle) as boolean;
  }
  /** The accumulated gradient, or null before the first backward(). */
  get grad(): Tensor | null {
    const handle = ops.grad(this.handle) as Handle | null;
    return handle === null ? null : wrap(handle);
  }
  set grad(value: Tensor | null) {
    if (value !== null && !(value instanceof Tensor)) {
      throw new ArgumentError(`grad: can only be set to a Tensor or null; got ${show(value)}`);
    }
    ops.setGrad(this.handle, value === null ? null : value.handle);
  }
  retainGrad(): this {
    ops.retainGrad(this.handle);
    return this;
  }
  get gradFnName(): string {
    return ops.gradFnName(this.handle) as string;
  }
  /** Accumulates gradients of this tensor into every leaf that requires them. */
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    const { retainGraph, createGraph } = optionsArg(options, 'backward');
    if (gradient === undefined && this.numel() !== 1) {
      throw new ShapeError(
        `backward(): a gradient is needed for a non-scalar tensor of shape [${this.shape.join(', ')}]`,
      );
    }
    ops.backward(
      this.handle,
      optionalHandle(gradient, 'backward', 'gradient'),
      retainGraph ?? null,
      createGraph ?? false,
    );
  }

  // ---- arithmetic (broadcasting like PyTorch) ------------------------------------------------

  add(other: TensorLike, alpha = 1): Tensor {
    return call('add', this.handle, handleOf(other, 'add', 'other'), alpha);
  }
  sub(other: TensorLike, alpha = 1): Tensor {
    return call('sub', this.handle, handleOf(other, 'sub', 'other'), alpha);
  }
  /** other - this, for a number `other`. */
  rsub(other: number): Tensor {
    return call('rsub', this.handle, other);
  }
  mul(other: TensorLike): Tensor {
    return call('mul', this.handle, handleOf(other, 'mul', 'other'));
  }
  div(other: TensorLike): Tensor {
    return call('div', this.handle, handleOf(other, 'div', 'other'));
  }
  remainder(other: TensorLike): Tensor {
    return call('remainder', this.handle, handleOf(other, 'remainder', 'other'));
  }
  pow(exponent: TensorLike): Tensor {
    return call('pow', this.handle, handleOf(exponent, 'pow', 'exponent'));
  }
  maximum(other: Tensor): Tensor {
    return call('maximum', this.handle, handleArg(other, 'maximum', 'other'));
  }
  minimum(other: Tensor): Tensor {
    return call('minimum', this.handle, handleArg(other, 'minimum', 'other'));
  }
  neg(): Tensor {
    return call('neg', this.handle);
  }
  abs(): Tensor {
    return call('abs', this.handle);
  }
  sign(): Tensor {
    return call('sign', this.handle);
  }
  exp(): Tensor {
    return call('exp', this.handle);
  }
  expm1(): Tensor {
    return call('expm1', this.handle);
  }
  log(): Tensor {
    return call('log', this.handle);
  }
  log1p(): Tensor {
    return call('log1p', this.handle);
  }
  log2(): Tensor {
    return call('log2', this.handle);
  }
  sqrt(): Tensor {
    return call('sqrt', this.handle);
  }
  rsqrt(): Tensor {
    return call('rsqrt', this.handle);
  }
  square(): Tensor {
    return call('square', this.handle);
  }
  reciprocal(): Tensor {
    return call('reciprocal', this.handle);
  }
  sin(): Tensor {
    return call('sin', this.handle);
  }
  cos(): Tensor {
    return call('cos', this.handle);
  }
  tanh(): Tensor {
    return call('tanh', this.handle);
  }
  erf(): Tensor {
    return call('erf', this.handle);
  }
  floor(): Tensor {
    return call('floor', this.handle);
  }
  ceil(): Tensor {
    return call('ceil', this.handle);
  }
  round(): Tensor {
    return call('round', this.handle);
  }
  sigmoid(): Tensor {
    return call('sigmoid', this.handle);
  }
  relu(): Tensor {
    return call('relu', this.handle);
  }
  softplus(beta = 1, threshold = 20): Tensor {
    return call('softplus', this.handle, beta, threshold);
  }
  /** Limits values to [min, max]; either bound may be null. */
  clamp(min: number | null, max: number | null = null): Tensor {
    if (min === null && max === null) throw new ArgumentError('clamp(): give at least one of min and max');
    return call('clamp', this.handle, min, max);
  }
  clampMin(min: number): Tensor {
    return this.clamp(min, null);
  }
  clampMax(max: number): Tensor {
    return this.clamp(null, max);
  }
  isnan(): Tensor {
    return call('isnan', this.handle);
  }
  isfinite(): Tensor {
    return call('isfinite', this.handle);
  }
  /** this + value * t1 * t2 */
  addcmul(t1: Tensor, t2: Tensor, value = 1): Tensor {
    return call('addcmul', this.handle, handleArg(t1, 'addcmul', 't1'), handleArg(t2, 'addcmul', 't2'), value);
  }
  lerp(end: Tensor, weight: TensorLike): Tensor {
    return call('lerp', this.handle, handleArg(end, 'lerp', 'end'), handleOf(weight, 'lerp', 'weight'));
  }

  // ---- in place (return this) ----------------------------------------------------------------

  add_(other: TensorLike, alpha = 1): this {
    ops.add_(this.handle, handleOf(other, 'add_', 'other'), alpha);
    return this;
  }
  sub_(other: TensorLike, alpha = 1): this {
    ops.sub_(this.handle, handleOf(other, 'sub_', 'other'), alpha);
    return this;
  }
  mul_(other: TensorLike): this {
    ops.mul_(this.handle, handleOf(other, 'mul_', 'other'));
    return this;
  }
  div_(other: TensorLike): this {
    ops.div_(this.handle, handleOf(other, 'div_', 'other'));
    return this;
  }
  clamp_(min: number | null, max: number | null = null): this {
    ops.clamp_(this.handle, min, max);
    return this;
  }
  relu_(): this {
    ops.relu_(this.handle);
    return this;
  }
  copy_(source: Tensor): this {
    ops.copy_(this.handle, handleArg(source, 'copy_', 'source'));
    return this;
  }
  fill_(value: number): this {
    ops.fill_(this.handle, value);
    return this;
  }
  zero_(): this {
    ops.zero_(this.handle);
    return this;
  }
  uniform_(low = 0, high = 1): this {
    ops.uniform_(this.handle, low, high);
    return this;
  }
  normal_(mean = 0, std = 1): this {
    ops.normal_(this.handle, mean, std);
    return this;
  }
  maskedFill_(mask: Tensor, value: number): this {
    ops.maskedFill_(this.handle, handleArg(mask, 'maskedFill_', 'mask'), value);
    return this;
  }

  // ---- comparison and logic ------------------------------------------------------------------

  eq(other: TensorLike): Tensor {
    return call('eq', this.handle, handleOf(other, 'eq', 'other'));
  }
  ne(other: TensorLike): Tensor {
    return call('ne', this.handle, handleOf(other, 'ne', 'other'));
  }
  lt(other: TensorLike): Tensor {
    return call('lt', this.handle, handleOf(other, 'lt', 'other'));
  }
  le(other: TensorLike): Tensor {
    return call('le', this.handle, handleOf(other, 'le', 'other'));
  }
  gt(other: TensorLike): Tensor {
    return call('gt', this.handle, handleOf(other, 'gt', 'other'));
  }
  ge(other: TensorLike): Tensor {
    return call('ge', this.handle, handleOf(other, 'ge', 'other'));
  }
  logicalAnd(other: Tensor): Tensor {
    return call('logicalAnd', this.handle, handleArg(other, 'logicalAnd', 'other'));
  }
  logicalOr(other: Tensor): Tensor {
    return call('logicalOr', this.handle, handleArg(other, 'logicalOr', 'other'));
  }
  logicalNot(): Tensor {
    return call('logicalNot', this.handle);
  }
  /** Replaces elements where `mask` is true with `value`. */
  maskedFill(mask: Tensor, value: TensorLike): Tensor {
    return call(
      'maskedFill',
      this.handle,
      handleArg(mask, 'maskedFill', 'mask'),
      handleOf(value, 'maskedFill', 'value'),
    );
  }

  // ---- reductions ----------------------------------------------------------------------------

  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    return call('sum', this.handle, dimsArg(dim, 'sum'), keepdim);
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return call('mean', this.handle, dimsArg(dim, 'mean'), keepdim);
  }
  prod(): Tensor {
    return call('prod', this.handle);
  }
  std(dim?: number | readonly number[], options: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    const { unbiased, keepdim } = optionsArg(options, 'std');
    return call('std', this.handle, dimsArg(dim, 'std'), unbiased ?? true, keepdim ?? false);
  }
  var(dim?: number | readonly number[], options: { unbiased?: boolean; keepdim?: boolean } = {}): Tensor {
    const { unbiased, keepdim } = optionsArg(options, 'var');
    return call('var', this.handle, dimsArg(dim, 'var'), unbiased ?? true, keepdim ?? false);
  }
  norm(p = 2, dim?: number | readonly number[], keepdim = false): Tensor {
    return call('norm', this.handle, p, dimsArg(dim, 'norm'), keepdim);
  }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor {
    return call('logsumexp', this.handle, dimsArg(dim, 'logsumexp'), keepdim);
  }
  /** The largest element. */
  max(): Tensor;
  /** The largest elements along `dim`, with their indices. */
  max(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  max(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return call('max', this.handle);
    const [values, indices] = callMany('maxDim', this.handle, dim, keepdim);
    return { values: values!, indices: indices! };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): { values: Tensor; indices: Tensor };
  min(dim?: number, keepdim = false): Tensor | { values: Tensor; indices: Tensor } {
    if (dim === undefined) return call('min', this.handle);
    const [values, indices] = callMany('minDim', this.handle, dim, keepdim);
    return { values: values!, indices: indices! };
  }
  amax(dim: number | readonly number[], keepdim = false): Tensor {
    return call('amax', this.handle, dimsArg(dim, 'amax'), keepdim);
  }
  amin(dim: number | readonly number[], keepdim = false): Tensor {
    return call('amin', this.handle, dimsArg(dim, 'amin'), keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return call('argmax', this.handle, dim ?? null, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return call('argmin', this.handle, dim ?? null, keepdim);
  }
  /** The k largest (or smallest) elements along `dim`. */
  topk(
    k: number,
    options: { dim?: number; largest?: boolean; sorted?: boolean } = {},
  ): { values: Tensor; indices: Tensor } {
    const { dim = -1, largest, sorted } = optionsArg(options, 'topk');
    const size = this.shape[normaliseDim(dim, this.ndim, 'topk(): dim')] ?? 1;
    if (!Number.isInteger(k) || k < 0 || k > size) {
      throw new ArgumentError(`topk(): k must be an integer in [0, ${size}] for dim ${dim}; got ${show(k)}`);
    }
    const [values, indices] = callMany('topk', this.handle, k, dim, largest ?? true, sorted ?? true);
    return { values: values!, indices: indices! };
  }
  sort(options: { dim?: number; descending?: boolean; stable?: boolean } = {}): { values: Tensor; indices: Tensor } {
    const { dim, descending, stable } = optionsArg(options, 'sort');
    const [values, indices] = callMany('sort', this.handle, dim ?? -1, descending ?? false, stable ?? false);
    return { values: values!, indices: indices! };
  }
  argsort(options: { dim?: number; descending?: boolean } = {}): Tensor {
    const { values, indices } = this.sort(options);
    values.dispose();
    return indices;
  }
  cumsum(dim: number): Tensor {
    return call('cumsum', this.handle, dim);
  }
  /** Whether any element is true (over everything, or along `dim`). */
  any(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? call('any', this.handle) : call('anyDim', this.handle, dim, keepdim);
  }
  all(dim?: number, keepdim = false): Tensor {
    return dim === undefined ? call('all', this.handle) : call('allDim', this.handle, dim, keepdim);
  }
  countNonzero(): Tensor {
    return call('countNonzero', this.handle);
  }

  // ---- linear algebra ------------------------------------------------------------------------

  /** Matrix product with PyTorch's broadcasting rules: [.., n, k] x [.., k, m] -> [.., n, m]. */
  matmul(other: Tensor): Tensor {
    const a = this.shape;
    const b = tensorArg(other, 'matmul', 'other').shape;
    if (a.length === 0 || b.length === 0) throw new ShapeError('matmul(): both tensors need at least one dimension');
    const inner = a[a.length - 1];
    const otherInner = b.length === 1 ? b[0] : b[b.length - 2];
    if (inner !== otherInner) {
      throw new ShapeError(`matmul(): inner dimensions differ: [${a.join(', ')}] x [${b.join(', ')}]`);
    }
    return call('matmul', this.handle, handleArg(other, 'matmul', 'other'));
  }
  mm(other: Tensor): Tensor {
    return call('mm', this.handle, handleArg(other, 'mm', 'other'));
  }
  bmm(other: Tensor): Tensor {
    return call('bmm', this.handle, handleArg(other, 'bmm', 'other'));
  }
  dot(other: Tensor): Tensor {
    return call('dot', this.handle, handleArg(other, 'dot', 'other'));
  }
  outer(other: Tensor): Tensor {
    return call('outer', this.handle, handleArg(other, 'outer', 'other'));
  }
  /**
   * p-norm distances between every row of this [n, d] (or [b, n, d]) and every row of `other` [m, d].
   * @example a.cdist(b) // [n, m] Euclidean distances
   * @throws ShapeError when the last dimensions differ
   */
  cdist(other: Tensor, p = 2): Tensor {
    const a = this.shape;
    const b = tensorArg(other, 'cdist', 'other').shape;
    if (a.length < 2 || b.length < 2) {
      throw new ShapeError(
        `cdist(): both tensors must be at least 2-d [n, d]; got [${a.join(', ')}] and [${b.join(', ')}]`,
      );
    }
    if (a[a.length - 1] !== b[b.length - 1]) {
      throw new ShapeError(
        `cdist(): x2 must be [m, ${a[a.length - 1]}] to match x1 [${a.join(', ')}]; got [${b.join(', ')}]`,
      );
    }
    if (!this.isFloating || !other.isFloating) {
      throw new DTypeError(`cdist(): needs floating-point tensors; got ${this.dtype} and ${other.dtype}`);
    }
    if (typeof p !== 'number' || !(p >= 0)) throw new ArgumentError(`cdist(): p must be a number >= 0; got ${show(p)}`);
    return call('cdist', this.handle, handleArg(other, 'cdist', 'other'), p);
  }
  /** Transpose of a 2-d tensor. */
  t(): Tensor {
    if (this.ndim !== 2) throw new ShapeError(`t(): expects a 2-d tensor; got [${this.shape.join(', ')}]`);
    return this.transpose(0, 1);
  }

  // ---- shape ---------------------------------------------------------------------------------

  /** A tensor with the same elements and a new shape (-1 infers one dimension). */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return call('reshape', this.handle, checkShape('reshape', flattenShape(shape), this.numel()));
  }
  view(...shape: number[] | [readonly number[]]): Tensor {
    return call('view', this.handle, checkShape('view', flattenShape(shape), this.numel()));
  }
  permute(...dims: number[]): Tensor {
    return call('permute', this.handle, dims);
  }
  transpose(dim0: number, dim1: number): Tensor {
    return call('transpose', this.handle, dim0, dim1);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return call('flatten', this.handle, startDim, endDim);
  }
  squeeze(dim?: number): Tensor {
    return call('squeeze', this.handle, dim ?? null);
  }
  unsqueeze(dim: number): Tensor {
    return call('unsqueeze', this.handle, dim);
  }
  expand(...shape: number[]): Tensor {
    return call('expand', this.handle, shape);
  }
  expandAs(other: Tensor): Tensor {
    return call('expand', this.handle, tensorArg(other, 'expandAs', 'other').shape);
  }
  repeat(...repeats: number[]): Tensor {
    return call('repeat', this.handle, repeats);
  }
  repeatInterleave(repeats: number, dim?: number): Tensor {
    return call('repeatInterleave', this.handle, repeats, dim ?? null);
  }
  /** Elements start..end (exclusive) by step along `dim`; negative indices count from the end. */
  slice(dim: number, start: number | null = null, end: number | null = null, step = 1): Tensor {
    return call('slice', this.handle, dim, start, end, step);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return call('narrow', this.handle, dim, start, length);
  }
  /** The sub-tensor at `index` along `dim`, with that dimension removed. */
  select(dim: number, index: number): Tensor {
    return call('select', this.handle, dim, index);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return call('indexSelect', this.handle, dim, handleArg(index, 'indexSelect', 'index'));
  }
  gather(dim: number, index: Tensor): Tensor {
    return call('gather', this.handle, dim, handleArg(index, 'gather', 'index'));
  }
  scatter(dim: number, index: Tensor, source: Tensor): Tensor {
    return call(
      'scatter',
      this.handle,
      dim,
      handleArg(index, 'scatter', 'index'),
      handleArg(source, 'scatter', 'source'),
    );
  }
  scatterAdd(dim: number, index: Tensor, source: Tensor): Tensor {
    return call(
      'scatterAdd',
      this.handle,
      dim,
      handleArg(index, 'scatterAdd', 'index'),
      handleArg(source, 'scatterAdd', 'source'),
    );
  }
  indexAdd(dim: number, index: Tensor, source: Tensor): Tensor {
    return call(
      'indexAdd',
      this.handle,
      dim,
      handleArg(index, 'indexAdd', 'index'),
      handleArg(source, 'indexAdd', 'source'),
    );
  }
  /** Advanced indexing: t.index([rows, cols]) is PyTorch's t[rows, cols]; null keeps a dimension whole. */
  index(indices: readonly (Tensor | null)[]): Tensor {
    return call('index', this.handle, indexHandles(indices, 'index'));
  }
  /** Out-of-place t[indices] = values (accumulating when asked). */
  indexPut(indices: readonly (Tensor | null)[], values: Tensor, accumulate = false): Tensor {
    return call(
      'indexPut',
      this.handle,
      indexHandles(indices, 'indexPut'),
      handleArg(values, 'indexPut', 'values'),
      accumulate,
    );
  }
  maskedSelect(mask: Tensor): Tensor {
    return call('maskedSelect', this.handle, handleArg(mask, 'maskedSelect', 'mask'));
  }
  nonzero(): Tensor {
    return call('nonzero', this.handle);
  }
  split(splitSize: number, dim = 0): Tensor[] {
    return callMany('split', this.handle, splitSize, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return callMany('chunk', this.handle, chunks, dim);
  }
  flip(...dims: number[]): Tensor {
    return call('flip', this.handle, dims);
  }
  roll(shifts: number | number[], dims: number | number[]): Tensor {
    return call('roll', this.handle, [shifts].flat(), [dims].flat());
  }
  /** Rotates by k quarter turns over the last two dimensions. */
  rot90(k = 1): Tensor {
    return call('rot90', this.handle, k);
  }
  tril(diagonal = 0): Tensor {
    return call('tril', this.handle, diagonal);
  }
  triu(diagonal = 0): Tensor {
    return call('triu', this.handle, diagonal);
  }
  diag(diagonal = 0): Tensor {
    return call('diag', this.handle, diagonal);
  }
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor {
    return call('diagonal', this.handle, offset, dim1, dim2);
  }
}

setTensorCheck((value: unknown): value is Tensor => value instanceof Tensor);

function flattenShape(shape: number[] | [readonly number[]]): number[] {
  return Array.isArray(shape[0]) ? [...(shape[0] as readonly number[])] : (shape as number[]);
}

/** One optional index tensor per leading dim (null keeps the dim whole). */
function indexHandles(indices: readonly (Tensor | null)[], op: string): (Handle | null)[] {
  if (!Array.isArray(indices)) {
    throw new ArgumentError(`${op}(): indices must be an array of Tensors or nulls; got ${show(indices)}`);
  }
  return indices.map((t, i) => optionalHandle(t, op, `indices[${i}]`));
}

function checkShape(op: string, shape: number[], numel: number): number[] {
  let inferred = 0;
  let known = 1;
  for (const size of shape) {
    if (size === -1) inferred++;
    else if (!Number.isInteger(size) || size < 0)
      throw new ShapeError(`${op}(): sizes must be integers >= 0 or -1; got ${show(shape)}`);
    else known *= size;
  }
  const fits = inferred === 0 ? known === numel : inferred === 1 && known > 0 && numel % known === 0;
  if (inferred > 1 || !fits) {
    throw new ShapeError(`${op}(): shape [${shape.join(', ')}] is invalid for a tensor of ${numel} elements`);
  }
  return shape;
}

// ---- creation ----------------------------------------------------------------------------------

function finish(t: Tensor, options: TensorOptions): Tensor {
  if (options.requiresGrad === true) t.requiresGrad_(true);
  return t;
}

function code(dtype: DType | undefined, fallback: DType = 'float32'): number {
  const name = dtype ?? fallback;
  if (!isDType(name)) throw new DTypeError(`unknown dtype ${show(name)}; use one of ${Object.keys(DTYPES).join(', ')}`);
  return DTYPES[name].code;
}

/** Checked creation options: the dtype's code, the device and the grad flag. */
function creation(
  options: TensorOptions | undefined,
  op: string,
  fallback: DType = 'float32',
): { code: number; device: string; options: TensorOptions } {
  const checked = optionsArg(options, op);
  const device = checked.device ?? 'cpu';
  if (typeof device !== 'string') {
    throw new ArgumentError(`${op}(): device must be a string such as 'cpu' or 'cuda:0'; got ${show(device)}`);
  }
  if (checked.requiresGrad !== undefined && typeof checked.requiresGrad !== 'boolean') {
    throw new ArgumentError(`${op}(): requiresGrad must be a boolean; got ${show(checked.requiresGrad)}`);
  }
  return { code: code(checked.dtype, fallback), device, options: checked };
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = level[0]!;
  }
  return shape;
}

function flattenNested(data: NestedArray, shape: number[], dim: number, out: number[]): void {
  if (dim === shape.length) {
    if (typeof data === 'number') out.push(data);
    else if (typeof data === 'boolean') out.push(data ? 1 : 0);
    else if (Array.isArray(data))
      throw new ShapeError('tensor(): nested arrays are ragged (rows of different lengths)');
    else {
      throw new ArgumentError(
        `tensor(): data must be numbers, booleans, nested arrays of them or a TypedArray; found ${show(data)}`,
      );
    }
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new ShapeError('tensor(): nested arrays are ragged (rows of different lengths)');
  }
  for (const item of data) flattenNested(item, shape, dim + 1, out);
}

/**
 * Creates a tensor from nested arrays, a TypedArray or a Buffer (always copies).
 * Numbers default to float32 (int64 when every value is an integer and no dtype is given, as in PyTorch);
 * booleans to bool; TypedArrays keep their own type.
 * @example tensor([[1, 2], [3, 4]], { dtype: 'float64' })
 * @example tensor(new Float32Array(784), { shape: [1, 1, 28, 28] })
 */
export function tensor(
  data: NestedArray | ArrayBufferView,
  options: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  options = optionsArg(options, 'tensor');
  if (options.dtype !== undefined) code(options.dtype);
  let t: Tensor;
  if (ArrayBuffer.isView(data)) {
    // Copy the bytes as the array's own type (bool reads a Uint8Array as-is), then convert.
    const dtype = options.dtype ?? dtypeOfArray(data);
    const stored = dtype === 'bool' && data instanceof Uint8Array ? 'bool' : dtypeOfArray(data);
    const shape = options.shape ?? [data.byteLength / DTYPES[stored].bytes];
    t = wrap(native.fromBuffer(data, checkSizes('tensor', shape), DTYPES[stored].code));
    if (stored !== dtype) {
      const converted = t.to({ dtype });
      t.dispose();
      t = converted;
    }
  } else {
    const inferred = inferShape(data);
    const flat: number[] = [];
    flattenNested(data, inferred, 0, flat);
    const shape = options.shape === undefined ? inferred : checkSizes('tensor', options.shape);
    if (options.shape !== undefined && shape.reduce((a, b) => a * b, 1) !== flat.length)
      throw new ShapeError(`tensor(): shape ${show(shape)} does not hold the ${flat.length} values given`);
    const allBool = flat.length > 0 && isAllBoolean(data);
    const dtype =
      options.dtype ?? (allBool ? 'bool' : flat.every(Number.isInteger) && flat.length > 0 ? 'int64' : 'float32');
    const source = wrap(native.fromBuffer(Float64Array.from(flat), shape, DTYPES.float64.code));
    t = dtype === 'float64' ? source : source.to({ dtype });
    if (t !== source) source.dispose();
  }
  if (options.device !== undefined && options.device !== 'cpu') {
    const moved = t.to({ device: options.device });
    t.dispose();
    t = moved;
  }
  return finish(t, options);
}

function isAllBoolean(data: NestedArray): boolean {
  if (Array.isArray(data)) return data.every(isAllBoolean);
  return typeof data === 'boolean';
}

/** A scalar (0-d) tensor. */
export function scalar(value: number, options: TensorOptions = {}): Tensor {
  return full([], value, options);
}

function checkSizes(op: string, shape: readonly number[]): readonly number[] {
  if (!Array.isArray(shape) || shape.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new ShapeError(`${op}(): shape must be an array of integers >= 0; got ${show(shape)}`);
  }
  return shape;
}

function numberArg(value: number, op: string, name: string): number {
  if (typeof value !== 'number') throw new ArgumentError(`${op}(): ${name} must be a number; got ${show(value)}`);
  return value;
}

// Sized creation: (shape, dtype, device) for empty, zeros, ones, rand and randn.
function sized(
  op: 'empty' | 'zeros' | 'ones' | 'rand' | 'randn',
  shape: readonly number[],
  options?: TensorOptions,
): Tensor {
  const c = creation(options, op);
  return finish(call(op, checkSizes(op, shape), c.code, c.device), c.options);
}

export function empty(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return sized('empty', shape, options);
}
export function zeros(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return sized('zeros', shape, options);
}
export function ones(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return sized('ones', shape, options);
}
export function full(shape: readonly number[], value: number, options: TensorOptions = {}): Tensor {
  const c = creation(options, 'full');
  return finish(
    call('full', checkSizes('full', shape), numberArg(value, 'full', 'value'), c.code, c.device),
    c.options,
  );
}
export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  tensorArg(t, 'zerosLike', 't');
  return zeros(t.shape, { dtype: t.dtype, device: t.device as Device, ...optionsArg(options, 'zerosLike') });
}
export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  tensorArg(t, 'onesLike', 't');
  return ones(t.shape, { dtype: t.dtype, device: t.device as Device, ...optionsArg(options, 'onesLike') });
}
export function fullLike(t: Tensor, value: number, options: TensorOptions = {}): Tensor {
  tensorArg(t, 'fullLike', 't');
  return full(t.shape, value, { dtype: t.dtype, device: t.device as Device, ...optionsArg(options, 'fullLike') });
}
/** Values start, start+step, ... below end (int64 when every argument is an integer). */
export function arange(start: number, end?: number, step = 1, options: TensorOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const isInt = [start, end, step].every(Number.isInteger);
  const c = creation(options, 'arange', isInt ? 'int64' : 'float32');
  return finish(call('arange', start, end, step, c.code, c.device), c.options);
}
export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  const c = creation(options, 'linspace');
  return finish(call('linspace', start, end, steps, c.code, c.device), c.options);
}
export function eye(n: number, m = n, options: TensorOptions = {}): Tensor {
  const c = creation(options, 'eye');
  return finish(call('eye', n, m, c.code, c.device), c.options);
}
/** Uniform samples in [0, 1). */
export function rand(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return sized('rand', shape, options);
}
/** Standard normal samples. */
export function randn(shape: readonly number[], options: TensorOptions = {}): Tensor {
  return sized('randn', shape, options);
}
/** Normal samples with the given mean and standard deviation. */
export function normal(mean: number, std: number, shape: readonly number[], options: TensorOptions = {}): Tensor {
  const t = empty(shape, options);
  try {
    return t.normal_(mean, std);
  } catch (error) {
    t.dispose();
    throw error;
  }
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: readonly number[], options: TensorOptions = {}): Tensor {
  numberArg(low, 'randint', 'low');
  numberArg(high, 'randint', 'high');
  if (!(high > low)) throw new ArgumentError(`randint(): high (${high}) must be greater than low (${low})`);
  const c = creation(options, 'randint', 'int64');
  return call('randint', low, high, checkSizes('randint', shape), c.code, c.device);
}
/** A random permutation of 0..n-1. */
export function randperm(n: number, options: TensorOptions = {}): Tensor {
  const c = creation(options, 'randperm', 'int64');
  return call('randperm', n, c.code, c.device);
}
export function bernoulli(probabilities: Tensor, p: number): Tensor {
  return call('bernoulli', handleArg(probabilities, 'bernoulli', 'probabilities'), p);
}

// ---- free functions over several tensors -------------------------------------------------------

function handles(op: string, tensors: readonly Tensor[]): Handle[] {
  if (!Array.isArray(tensors) || tensors.length === 0)
    throw new ArgumentError(`${op}(): needs a non-empty array of tensors; got ${show(tensors)}`);
  return tensors.map((t, i) => handleArg(t, op, `tensors[${i}]`));
}
/** Joins tensors along an existing dimension. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return call('cat', handles('cat', tensors), dim);
}
/** Joins same-shaped tensors along a new dimension. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return call('stack', handles('stack', tensors), dim);
}
/** Elementwise choice: a where condition is true, else b. */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  tensorArg(condition, 'where', 'condition');
  handleOf(a, 'where', 'a');
  handleOf(b, 'where', 'b');
  const ta = typeof a === 'number' ? fullLike(condition, a, { dtype: typeof b === 'number' ? 'float32' : b.dtype }) : a;
  const tb = typeof b === 'number' ? fullLike(condition, b, { dtype: ta.dtype }) : b;
  try {
    return call('where', condition.handle, ta.handle, tb.handle);
  } finally {
    if (ta !== a) ta.dispose();
    if (tb !== b) tb.dispose();
  }
}
export function oneHot(labels: Tensor, numClasses = -1): Tensor {
  return call('oneHot', handleArg(labels, 'oneHot', 'labels'), numClasses);
}
