// nn.functional: stateless neural-network operations, with PyTorch's names and defaults.
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { numberListArg, optionsArg, show } from '../engine/arguments.js';
import { call, handleArg, optionalHandle, tensorArg, type Tensor } from '../engine/tensor.js';

export type Reduction = 'none' | 'mean' | 'sum';
export type Pair = number | readonly [number, number];

const REDUCTIONS: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

/** The code of a named choice, own keys only (so 'toString' is no reduction). */
function choice<T extends Record<string, number>>(table: T, value: unknown, fallback: keyof T): number | undefined {
  const key = value ?? fallback;
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
}

function reduction(value: Reduction | undefined, op: string): number {
  const code = choice(REDUCTIONS, value, 'mean');
  if (code === undefined)
    throw new ArgumentError(`${op}(): reduction must be 'none', 'mean' or 'sum'; got ${show(value)}`);
  return code;
}

function pair(value: Pair, name: string, op: string): [number, number] {
  const out = typeof value === 'number' ? [value, value] : Array.isArray(value) && value.length === 2 ? [...value] : [];
  if (out.length !== 2 || !out.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new ArgumentError(`${op}(): ${name} must be an integer >= 0 or a pair of them; got ${show(value)}`);
  }
  return out as [number, number];
}

function shapeText(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

function expectRank(op: string, name: string, t: Tensor, ranks: number[], layout: string): void {
  if (!ranks.includes(tensorArg(t, op, name).ndim))
    throw new ShapeError(`${op}(): ${name} must be ${layout}; got ${shapeText(t)}`);
}

function expectFloating(op: string, name: string, t: Tensor): void {
  if (!tensorArg(t, op, name).isFloating)
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
  options = optionsArg(options, 'conv2d');
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
    handleArg(input, 'conv2d', 'input'),
    handleArg(weight, 'conv2d', 'weight'),
    optionalHandle(bias, 'conv2d', 'bias'),
    pair(options.stride ?? 1, 'stride', 'conv2d'),
    pair(options.padding ?? 0, 'padding', 'conv2d'),
    pair(options.dilation ?? 1, 'dilation', 'conv2d'),
    groups,
  );
}

/** x W^T + b: [.., in] -> [.., out]. */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  tensorArg(input, 'linear', 'input');
  tensorArg(weight, 'linear', 'weight');
  if (input.shape[input.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(
      `linear(): input ${shapeText(input)} has ${input.shape[input.ndim - 1]} features; the weight ${shapeText(weight)} expects ${weight.shape[1]}`,
    );
  }
  return call(
    'linear',
    handleArg(input, 'linear', 'input'),
    handleArg(weight, 'linear', 'weight'),
    optionalHandle(bias, 'linear', 'bias'),
  );
}

export interface PoolOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

export function maxPool2d(input: Tensor, kernelSize: Pair, options: PoolOptions = {}): Tensor {
  options = optionsArg(options, 'maxPool2d');
  expectRank('maxPool2d', 'input', input, [3, 4], '[N, C, H, W]');
  const kernel = pair(kernelSize, 'kernelSize', 'maxPool2d');
  return call(
    'maxPool2d',
    handleArg(input, 'maxPool2d', 'input'),
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
  options = optionsArg(options, 'avgPool2d');
  expectRank('avgPool2d', 'input', input, [3, 4], '[N, C, H, W]');
  const kernel = pair(kernelSize, 'kernelSize', 'avgPool2d');
  return call(
    'avgPool2d',
    handleArg(input, 'avgPool2d', 'input'),
    kernel,
    pair(options.stride ?? kernel, 'stride', 'avgPool2d'),
    pair(options.padding ?? 0, 'padding', 'avgPool2d'),
    options.ceilMode ?? false,
    options.countIncludePad ?? true,
  );
}

export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  expectRank('adaptiveAvgPool2d', 'input', input, [3, 4], '[N, C, H, W]');
  return call(
    'adaptiveAvgPool2d',
    handleArg(input, 'adaptiveAvgPool2d', 'input'),
    pair(outputSize, 'outputSize', 'adaptiveAvgPool2d'),
  );
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
  options = optionsArg(options, 'batchNorm');
  return call(
    'batchNorm',
    handleArg(input, 'batchNorm', 'input'),
    optionalHandle(runningMean, 'batchNorm', 'runningMean'),
    optionalHandle(runningVar, 'batchNorm', 'runningVar'),
    optionalHandle(options.weight, 'batchNorm', 'weight'),
    optionalHandle(options.bias, 'batchNorm', 'bias'),
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
  options = optionsArg(options, 'layerNorm');
  return call(
    'layerNorm',
    handleArg(input, 'layerNorm', 'input'),
    numberListArg(normalizedShape, 'layerNorm', 'normalizedShape'),
    optionalHandle(options.weight, 'layerNorm', 'weight'),
    optionalHandle(options.bias, 'layerNorm', 'bias'),
    options.eps ?? 1e-5,
  );
}

export function dropout(input: Tensor, p = 0.5, training = true): Tensor {
  if (typeof p !== 'number' || !(p >= 0 && p <= 1))
    throw new ArgumentError(`dropout(): p must be in [0, 1]; got ${show(p)}`);
  return call('dropout', handleArg(input, 'dropout', 'input'), p, training);
}

export const relu = (x: Tensor): Tensor => tensorArg(x, 'relu', 'x').relu();
export const sigmoid = (x: Tensor): Tensor => tensorArg(x, 'sigmoid', 'x').sigmoid();
export const tanh = (x: Tensor): Tensor => tensorArg(x, 'tanh', 'x').tanh();
export const softplus = (x: Tensor, beta = 1, threshold = 20): Tensor =>
  tensorArg(x, 'softplus', 'x').softplus(beta, threshold);
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor =>
  call('leakyRelu', handleArg(x, 'leakyRelu', 'x'), negativeSlope);
export const elu = (x: Tensor, alpha = 1): Tensor => call('elu', handleArg(x, 'elu', 'x'), alpha);
export const gelu = (x: Tensor): Tensor => call('gelu', handleArg(x, 'gelu', 'x'));
export const silu = (x: Tensor): Tensor => call('silu', handleArg(x, 'silu', 'x'));
export const logSigmoid = (x: Tensor): Tensor => call('logSigmoid', handleArg(x, 'logSigmoid', 'x'));
export const softmax = (x: Tensor, dim: number): Tensor => call('softmax', handleArg(x, 'softmax', 'x'), dim);
export const logSoftmax = (x: Tensor, dim: number): Tensor => call('logSoftmax', handleArg(x, 'logSoftmax', 'x'), dim);

/** x / max(||x||_p, eps) along `dim` (default 1): unit-length rows. */
export function normalize(input: Tensor, options: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  options = optionsArg(options, 'normalize');
  return call(
    'normalize',
    handleArg(input, 'normalize', 'input'),
    options.p ?? 2,
    options.dim ?? 1,
    options.eps ?? 1e-12,
  );
}

/** ||x1 - x2 + eps||_p along the last dimension, row by row. */
export function pairwiseDistance(
  x1: Tensor,
  x2: Tensor,
  options: { p?: number; eps?: number; keepdim?: boolean } = {},
): Tensor {
  options = optionsArg(options, 'pairwiseDistance');
  return call(
    'pairwiseDistance',
    handleArg(x1, 'pairwiseDistance', 'x1'),
    handleArg(x2, 'pairwiseDistance', 'x2'),
    options.p ?? 2,
    options.eps ?? 1e-6,
    options.keepdim ?? false,
  );
}

export function cosineSimilarity(x1: Tensor, x2: Tensor, options: { dim?: number; eps?: number } = {}): Tensor {
  options = optionsArg(options, 'cosineSimilarity');
  return call(
    'cosineSimilarity',
    handleArg(x1, 'cosineSimilarity', 'x1'),
    handleArg(x2, 'cosineSimilarity', 'x2'),
    options.dim ?? 1,
    options.eps ?? 1e-8,
  );
}

/** Euclidean (or p-norm) distance between every row of x1 and every row of x2. */
export function cdist(x1: Tensor, x2: Tensor, p = 2): Tensor {
  return tensorArg(x1, 'cdist', 'x1').cdist(x2, p);
}

function sameShape(op: string, input: Tensor, target: Tensor): void {
  tensorArg(input, op, 'input');
  tensorArg(target, op, 'target');
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
  options = optionsArg(options, 'binaryCrossEntropy');
  sameShape('binaryCrossEntropy', input, target);
  return call(
    'binaryCrossEntropy',
    handleArg(input, 'binaryCrossEntropy', 'input'),
    handleArg(target, 'binaryCrossEntropy', 'target'),
    optionalHandle(options.weight, 'binaryCrossEntropy', 'weight'),
    reduction(options.reduction, 'binaryCrossEntropy'),
  );
}

/** Binary cross-entropy on logits (numerically stable sigmoid + BCE). */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  options = optionsArg(options, 'binaryCrossEntropyWithLogits');
  sameShape('binaryCrossEntropyWithLogits', input, target);
  return call(
    'binaryCrossEntropyWithLogits',
    handleArg(input, 'binaryCrossEntropyWithLogits', 'input'),
    handleArg(target, 'binaryCrossEntropyWithLogits', 'target'),
    optionalHandle(options.weight, 'binaryCrossEntropyWithLogits', 'weight'),
    optionalHandle(options.posWeight, 'binaryCrossEntropyWithLogits', 'posWeight'),
    reduction(options.reduction, 'binaryCrossEntropyWithLogits'),
  );
}

/** Cross-entropy between logits [N, C] and class indices [N] (int64). */
/**
 * Class-index targets must be int64: a float target is read as class probabilities (crossEntropy
 * only, shaped like the scores), never silently as indices.
 */
function checkClassTarget(name: string, scores: Tensor, target: Tensor, probabilitiesAllowed: boolean): void {
  tensorArg(scores, name, 'input');
  if (tensorArg(target, name, 'target').dtype === 'int64') return;
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
  options = optionsArg(options, 'crossEntropy');
  checkClassTarget('crossEntropy', logits, target, true);
  return call(
    'crossEntropy',
    handleArg(logits, 'crossEntropy', 'logits'),
    handleArg(target, 'crossEntropy', 'target'),
    optionalHandle(options.weight, 'crossEntropy', 'weight'),
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
  options = optionsArg(options, 'nllLoss');
  checkClassTarget('nllLoss', logProbs, target, false);
  return call(
    'nllLoss',
    handleArg(logProbs, 'nllLoss', 'logProbs'),
    handleArg(target, 'nllLoss', 'target'),
    optionalHandle(options.weight, 'nllLoss', 'weight'),
    reduction(options.reduction, 'nllLoss'),
    options.ignoreIndex ?? -100,
  );
}

export function mseLoss(input: Tensor, target: Tensor, options: { reduction?: Reduction } = {}): Tensor {
  options = optionsArg(options, 'mseLoss');
  return call(
    'mseLoss',
    handleArg(input, 'mseLoss', 'input'),
    handleArg(target, 'mseLoss', 'target'),
    reduction(options.reduction, 'mseLoss'),
  );
}

/** max(0, -y (x1 - x2) + margin) */
export function marginRankingLoss(
  x1: Tensor,
  x2: Tensor,
  target: Tensor,
  options: { margin?: number; reduction?: Reduction } = {},
): Tensor {
  options = optionsArg(options, 'marginRankingLoss');
  return call(
    'marginRankingLoss',
    handleArg(x1, 'marginRankingLoss', 'x1'),
    handleArg(x2, 'marginRankingLoss', 'x2'),
    handleArg(target, 'marginRankingLoss', 'target'),
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
  options = optionsArg(options, 'hingeEmbeddingLoss');
  return call(
    'hingeEmbeddingLoss',
    handleArg(input, 'hingeEmbeddingLoss', 'input'),
    handleArg(target, 'hingeEmbeddingLoss', 'target'),
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
  options = optionsArg(options, 'cosineEmbeddingLoss');
  return call(
    'cosineEmbeddingLoss',
    handleArg(x1, 'cosineEmbeddingLoss', 'x1'),
    handleArg(x2, 'cosineEmbeddingLoss', 'x2'),
    handleArg(target, 'cosineEmbeddingLoss', 'target'),
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
  options = optionsArg(options, 'tripletMarginLoss');
  return call(
    'tripletMarginLoss',
    handleArg(anchor, 'tripletMarginLoss', 'anchor'),
    handleArg(positive, 'tripletMarginLoss', 'positive'),
    handleArg(negative, 'tripletMarginLoss', 'negative'),
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
  if (!Array.isArray(size) || size.length !== 4 || size[0] !== theta.shape[0]) {
    throw new ShapeError(`affineGrid(): size must be [N, C, H, W] with N = ${theta.shape[0]}; got ${show(size)}`);
  }
  return call('affineGrid', handleArg(theta, 'affineGrid', 'theta'), [...size], alignCorners);
}

const GRID_MODES = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const PADDING_MODES = { zeros: 0, border: 1, reflection: 2 } as const;

/** Samples `input` [N, C, H, W] at `grid` [N, H', W', 2] positions in [-1, 1]. */
export function gridSample(
  input: Tensor,
  grid: Tensor,
  options: { mode?: keyof typeof GRID_MODES; paddingMode?: keyof typeof PADDING_MODES; alignCorners?: boolean } = {},
): Tensor {
  options = optionsArg(options, 'gridSample');
  const mode = choice(GRID_MODES, options.mode, 'bilinear');
  const padding = choice(PADDING_MODES, options.paddingMode, 'zeros');
  if (mode === undefined)
    throw new ArgumentError(`gridSample(): mode must be bilinear, nearest or bicubic; got ${show(options.mode)}`);
  if (padding === undefined)
    throw new ArgumentError(
      `gridSample(): paddingMode must be zeros, border or reflection; got ${show(options.paddingMode)}`,
    );
  return call(
    'gridSample',
    handleArg(input, 'gridSample', 'input'),
    handleArg(grid, 'gridSample', 'grid'),
    mode,
    padding,
    options.alignCorners ?? false,
  );
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
  options = optionsArg(options, 'interpolate');
  expectRank('interpolate', 'input', input, [4], '[N, C, H, W]');
  let size: [number, number];
  if (options.size !== undefined) size = pair(options.size, 'size', 'interpolate');
  else if (typeof options.scaleFactor === 'number') {
    size = [Math.floor(input.shape[2]! * options.scaleFactor), Math.floor(input.shape[3]! * options.scaleFactor)];
  } else throw new ArgumentError(`interpolate(): give size or a numeric scaleFactor; got ${show(options.scaleFactor)}`);
  return call(
    'interpolate',
    handleArg(input, 'interpolate', 'input'),
    size,
    options.mode ?? 'nearest',
    options.alignCorners ?? false,
    options.antialias ?? false,
  );
}

/** Constant padding; `pads` lists (before, after) pairs from the last dimension backwards, as in PyTorch. */
export function pad(input: Tensor, pads: readonly number[], value = 0): Tensor {
  return call('constantPad', handleArg(input, 'pad', 'input'), numberListArg(pads, 'pad', 'pads'), value);
}
