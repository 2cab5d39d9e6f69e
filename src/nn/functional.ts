// nn.functional: stateless neural-network operations, with PyTorch's names and defaults.
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { call, type Tensor } from '../engine/tensor.js';

export type Reduction = 'none' | 'mean' | 'sum';
export type Pair = number | readonly [number, number];

const REDUCTIONS: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function reduction(value: Reduction | undefined, op: string): number {
  const code = REDUCTIONS[value ?? 'mean'];
  if (code === undefined) throw new ArgumentError(`${op}(): reduction must be 'none', 'mean' or 'sum'; got '${value}'`);
  return code;
}

function pair(value: Pair, name: string, op: string): [number, number] {
  const out: [number, number] = typeof value === 'number' ? [value, value] : [value[0], value[1]];
  if (!out.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new ArgumentError(`${op}(): ${name} must be an integer >= 0 or a pair of them; got ${JSON.stringify(value)}`);
  }
  return out;
}

function shapeText(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

function expectRank(op: string, name: string, t: Tensor, ranks: number[], layout: string): void {
  if (!ranks.includes(t.ndim)) throw new ShapeError(`${op}(): ${name} must be ${layout}; got ${shapeText(t)}`);
}

function expectFloating(op: string, name: string, t: Tensor): void {
  if (!t.isFloating)
    throw new DTypeError(`${op}(): ${name} must be a floating-point tensor; got ${t.dtype} (convert with .float())`);
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/**
 * 2-d convolution: [N, Cin, H, W] * [Cout, Cin/groups, kH, kW] -> [N, Cout, H', W'].
 * @throws ShapeError when the input's channels do not match the weight
 */
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  expectRank('conv2d', 'input', input, [4], '[N, C, H, W]');
  expectRank('conv2d', 'weight', weight, [4], '[Cout, Cin/groups, kH, kW]');
  expectFloating('conv2d', 'input', input);
  const groups = options.groups ?? 1;
  if (input.shape[1] !== weight.shape[1]! * groups) {
    throw new ShapeError(
      `conv2d(): input has ${input.shape[1]} channels but the weight ${shapeText(weight)} expects ${weight.shape[1]! * groups}`,
    );
  }
  return call(
    'conv2d',
    input.handle,
    weight.handle,
    bias?.handle ?? null,
    pair(options.stride ?? 1, 'stride', 'conv2d'),
    pair(options.padding ?? 0, 'padding', 'conv2d'),
    pair(options.dilation ?? 1, 'dilation', 'conv2d'),
    groups,
  );
}

/** x W^T + b: [.., in] -> [.., out]. */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (input.shape[input.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(
      `linear(): input ${shapeText(input)} has ${input.shape[input.ndim - 1]} features; the weight ${shapeText(weight)} expects ${weight.shape[1]}`,
    );
  }
  return call('linear', input.handle, weight.handle, bias?.handle ?? null);
}

export interface PoolOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(input: Tensor, kernelSize: Pair, options: PoolOptions = {}): Tensor {
  expectRank('maxPool2d', 'input', input, [3, 4], '[N, C, H, W]');
  const kernel = pair(kernelSize, 'kernelSize', 'maxPool2d');
  return call(
    'maxPool2d',
    input.handle,
    kernel,
    pair(options.stride ?? kernel, 'stride', 'maxPool2d'),
    pair(options.padding ?? 0, 'padding', 'maxPool2d'),
    pair(options.dilation ?? 1, 'dilation', 'maxPool2d'),
    options.ceilMode ?? false,
  );
}

export function avgPool2d(
  input: Tensor,
  kernelSize: Pair,
  options: Omit<PoolOptions, 'dilation'> & { countIncludePad?: boolean } = {},
): Tensor {
  expectRank('avgPool2d', 'input', input, [3, 4], '[N, C, H, W]');
  const kernel = pair(kernelSize, 'kernelSize', 'avgPool2d');
  return call(
    'avgPool2d',
    input.handle,
    kernel,
    pair(options.stride ?? kernel, 'stride', 'avgPool2d'),
    pair(options.padding ?? 0, 'padding', 'avgPool2d'),
    options.ceilMode ?? false,
    options.countIncludePad ?? true,
  );
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  expectRank('adaptiveAvgPool2d', 'input', input, [3, 4], '[N, C, H, W]');
  return call('adaptiveAvgPool2d', input.handle, pair(outputSize, 'outputSize', 'adaptiveAvgPool2d'));
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch normalisation; in training mode it also updates runningMean/runningVar in place. */
export function batchNorm(
  input: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: BatchNormOptions = {},
): Tensor {
  return call(
    'batchNorm',
    input.handle,
    runningMean?.handle ?? null,
    runningVar?.handle ?? null,
    options.weight?.handle ?? null,
    options.bias?.handle ?? null,
    options.training ?? false,
    options.momentum ?? 0.1,
    options.eps ?? 1e-5,
  );
}

export function layerNorm(
  input: Tensor,
  normalizedShape: readonly number[],
  options: { weight?: Tensor | null; bias?: Tensor | null; eps?: number } = {},
): Tensor {
  return call(
    'layerNorm',
    input.handle,
    [...normalizedShape],
    options.weight?.handle ?? null,
    options.bias?.handle ?? null,
    options.eps ?? 1e-5,
  );
}

export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  if (!(p >= 0 && p <= 1)) throw new ArgumentError(`dropout(): p must be in [0, 1]; got ${p}`);
  return call('dropout', input.handle, p, training);
}

export const relu = (x: Tensor): Tensor => x.relu();
export const sigmoid = (x: Tensor): Tensor => x.sigmoid();
export const tanh = (x: Tensor): Tensor => x.tanh();
export const softplus = (x: Tensor, beta = 1, threshold = 20): Tensor => x.softplus(beta, threshold);
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => call('leakyRelu', x.handle, negativeSlope);
export const elu = (x: Tensor, alpha = 1): Tensor => call('elu', x.handle, alpha);
export const gelu = (x: Tensor): Tensor => call('gelu', x.handle);
export const silu = (x: Tensor): Tensor => call('silu', x.handle);
export const logSigmoid = (x: Tensor): Tensor => call('logSigmoid', x.handle);
export const softmax = (x: Tensor, dim: number): Tensor => call('softmax', x.handle, dim);
export const logSoftmax = (x: Tensor, dim: number): Tensor => call('logSoftmax', x.handle, dim);

/** x / max(||x||_p, eps) along `dim` (default 1): unit-length rows. */
export function normalize(input: Tensor, options: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  return call('normalize', input.handle, options.p ?? 2, options.dim ?? 1, options.eps ?? 1e-12);
}

/** ||x1 - x2 + eps||_p along the last dimension, row by row. */
export function pairwiseDistance(
  x1: Tensor,
  x2: Tensor,
  options: { p?: number; eps?: number; keepdim?: boolean } = {},
): Tensor {
  return call('pairwiseDistance', x1.handle, x2.handle, options.p ?? 2, options.eps ?? 1e-6, options.keepdim ?? false);
}

export function cosineSimilarity(x1: Tensor, x2: Tensor, options: { dim?: number; eps?: number } = {}): Tensor {
  return call('cosineSimilarity', x1.handle, x2.handle, options.dim ?? 1, options.eps ?? 1e-8);
}

/** Euclidean (or p-norm) distance between every row of x1 and every row of x2. */
export function cdist(x1: Tensor, x2: Tensor, p = 2): Tensor {
  return x1.cdist(x2, p);
}

function sameShape(op: string, input: Tensor, target: Tensor): void {
  if (input.shape.join() !== target.shape.join()) {
    throw new ShapeError(`${op}(): target ${shapeText(target)} must have the input's shape ${shapeText(input)}`);
  }
}

/** Binary cross-entropy on probabilities in [0, 1]. */
export function binaryCrossEntropy(
  input: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  sameShape('binaryCrossEntropy', input, target);
  return call(
    'binaryCrossEntropy',
    input.handle,
    target.handle,
    options.weight?.handle ?? null,
    reduction(options.reduction, 'binaryCrossEntropy'),
  );
}

/** Binary cross-entropy on logits (numerically stable sigmoid + BCE). */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  sameShape('binaryCrossEntropyWithLogits', input, target);
  return call(
    'binaryCrossEntropyWithLogits',
    input.handle,
    target.handle,
    options.weight?.handle ?? null,
    options.posWeight?.handle ?? null,
    reduction(options.reduction, 'binaryCrossEntropyWithLogits'),
  );
}

/** Cross-entropy between logits [N, C] and class indices [N] (int64). */
/**
 * Class-index targets must be int64: a float target is read as class probabilities (crossEntropy
 * only, shaped like the scores), never silently as indices.
 */
function checkClassTarget(name: string, scores: Tensor, target: Tensor, probabilitiesAllowed: boolean): void {
  if (target.dtype === 'int64') return;
  const sameShape = target.ndim === scores.ndim && target.shape.every((n, i) => n === scores.shape[i]);
  if (probabilitiesAllowed && target.isFloating && sameShape) return;
  throw new DTypeError(
    `${name}(): target must hold int64 class indices${probabilitiesAllowed ? ` (or float class probabilities shaped like the input [${scores.shape.join(', ')}])` : ''}; ` +
      `got ${target.dtype} [${target.shape.join(', ')}]. tensor([0, 2, 1]) of whole numbers is int64, or convert with target.to({ dtype: 'int64' })`,
  );
}

export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; reduction?: Reduction; ignoreIndex?: number; labelSmoothing?: number } = {},
): Tensor {
  checkClassTarget('crossEntropy', logits, target, true);
  return call(
    'crossEntropy',
    logits.handle,
    target.handle,
    options.weight?.handle ?? null,
    reduction(options.reduction, 'crossEntropy'),
    options.ignoreIndex ?? -100,
    options.labelSmoothing ?? 0,
  );
}

export function nllLoss(
  logProbs: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; reduction?: Reduction; ignoreIndex?: number } = {},
): Tensor {
  checkClassTarget('nllLoss', logProbs, target, false);
  return call(
    'nllLoss',
    logProbs.handle,
    target.handle,
    options.weight?.handle ?? null,
    reduction(options.reduction, 'nllLoss'),
    options.ignoreIndex ?? -100,
  );
}

export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  return call('mseLoss', input.handle, target.handle, reduction(options.reduction, 'mseLoss'));
}

/** max(0, -y (x1 - x2) + margin) */
export function marginRankingLoss(
  x1: Tensor,
  x2: Tensor,
  target: Tensor,
  options: { margin?: number; reduction?: Reduction } = {},
): Tensor {
  return call(
    'marginRankingLoss',
    x1.handle,
    x2.handle,
    target.handle,
    options.margin ?? 0,
    reduction(options.reduction, 'marginRankingLoss'),
  );
}

/** x for y = 1, max(0, margin - x) for y = -1. */
export function hingeEmbeddingLoss(
  input: Tensor,
  target: Tensor,
  options: { margin?: number; reduction?: Reduction } = {},
): Tensor {
  return call(
    'hingeEmbeddingLoss',
    input.handle,
    target.handle,
    options.margin ?? 1,
    reduction(options.reduction, 'hingeEmbeddingLoss'),
  );
}

export function cosineEmbeddingLoss(
  x1: Tensor,
  x2: Tensor,
  target: Tensor,
  options: { margin?: number; reduction?: Reduction } = {},
): Tensor {
  return call(
    'cosineEmbeddingLoss',
    x1.handle,
    x2.handle,
    target.handle,
    options.margin ?? 0,
    reduction(options.reduction, 'cosineEmbeddingLoss'),
  );
}

/** max(d(a, p) - d(a, n) + margin, 0) for explicit triplets (PyTorch's triplet_margin_loss). */
export function tripletMarginLoss(
  anchor: Tensor,
  positive: Tensor,
  negative: Tensor,
  options: { margin?: number; p?: number; eps?: number; swap?: boolean; reduction?: Reduction } = {},
): Tensor {
  return call(
    'tripletMarginLoss',
    anchor.handle,
    positive.handle,
    negative.handle,
    options.margin ?? 1,
    options.p ?? 2,
    options.eps ?? 1e-6,
    options.swap ?? false,
    reduction(options.reduction, 'tripletMarginLoss'),
  );
}

/** Sampling grid [N, H, W, 2] for affine matrices theta [N, 2, 3] and an output size [N, C, H, W]. */
export function affineGrid(
  theta: Tensor,
  size: readonly [number, number, number, number],
  alignCorners = false,
): Tensor {
  expectRank('affineGrid', 'theta', theta, [3], '[N, 2, 3]');
  if (theta.shape[1] !== 2 || theta.shape[2] !== 3)
    throw new ShapeError(`affineGrid(): theta must be [N, 2, 3]; got ${shapeText(theta)}`);
  if (size.length !== 4 || size[0] !== theta.shape[0]) {
    throw new ShapeError(
      `affineGrid(): size must be [N, C, H, W] with N = ${theta.shape[0]}; got [${size.join(', ')}]`,
    );
  }
  return call('affineGrid', theta.handle, [...size], alignCorners);
}

const GRID_MODES = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const PADDING_MODES = { zeros: 0, border: 1, reflection: 2 } as const;

/** Samples `input` [N, C, H, W] at `grid` [N, H', W', 2] positions in [-1, 1]. */
export function gridSample(
  input: Tensor,
  grid: Tensor,
  options: { mode?: keyof typeof GRID_MODES; paddingMode?: keyof typeof PADDING_MODES; alignCorners?: boolean } = {},
): Tensor {
  const mode = GRID_MODES[options.mode ?? 'bilinear'];
  const padding = PADDING_MODES[options.paddingMode ?? 'zeros'];
  if (mode === undefined)
    throw new ArgumentError(`gridSample(): mode must be bilinear, nearest or bicubic; got '${options.mode}'`);
  if (padding === undefined)
    throw new ArgumentError(
      `gridSample(): paddingMode must be zeros, border or reflection; got '${options.paddingMode}'`,
    );
  return call('gridSample', input.handle, grid.handle, mode, padding, options.alignCorners ?? false);
}

/** Resizes [N, C, H, W] to `size` (or by `scaleFactor`); bilinear/bicubic may antialias when shrinking. */
export function interpolate(
  input: Tensor,
  options: {
    size?: Pair;
    scaleFactor?: number;
    mode?: 'nearest' | 'bilinear' | 'bicubic' | 'area';
    alignCorners?: boolean;
    antialias?: boolean;
  },
): Tensor {
  expectRank('interpolate', 'input', input, [4], '[N, C, H, W]');
  let size: [number, number];
  if (options.size !== undefined) size = pair(options.size, 'size', 'interpolate');
  else if (options.scaleFactor !== undefined) {
    size = [Math.floor(input.shape[2]! * options.scaleFactor), Math.floor(input.shape[3]! * options.scaleFactor)];
  } else throw new ArgumentError('interpolate(): give size or scaleFactor');
  return call(
    'interpolate',
    input.handle,
    size,
    options.mode ?? 'nearest',
    options.alignCorners ?? false,
    options.antialias ?? false,
  );
}

/** Constant padding; `pads` lists (before, after) pairs from the last dimension backwards, as in PyTorch. */
export function pad(input: Tensor, pads: readonly number[], value = 0): Tensor {
  return call('constantPad', input.handle, [...pads], value);
}
