// The standard layers, with PyTorch's parameter names and default initialisation.
import { empty, ones, zeros, scalar, type Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { ArgumentError } from '../errors.js';
import * as F from './functional.js';
import { kaimingUniform_, fans, uniform_ } from './init.js';
import { Module } from './module.js';

function positiveInt(op: string, name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0)
    throw new ArgumentError(`${op}: ${name} must be a positive integer; got ${value}`);
  return value;
}

// PyTorch's default for Linear and Conv: kaiming_uniform(a = sqrt(5)) weights, U(±1/sqrt(fan_in)) biases.
function defaultInit(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias !== null) {
    const bound = 1 / Math.sqrt(fans(weight).fanIn);
    uniform_(bias, -bound, bound);
  }
}

/** y = x W^T + b, [.., inFeatures] -> [.., outFeatures]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean } = {},
  ) {
    super();
    positiveInt('Linear', 'inFeatures', inFeatures);
    positiveInt('Linear', 'outFeatures', outFeatures);
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    this.bias = options.bias === false ? null : this.registerParameter('bias', empty([outFeatures]));
    defaultInit(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export interface Conv2dOptions extends F.Conv2dOptions {
  bias?: boolean;
}

/** 2-d convolution over [N, inChannels, H, W]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: F.Pair,
    readonly options: Conv2dOptions = {},
  ) {
    super();
    positiveInt('Conv2d', 'inChannels', inChannels);
    positiveInt('Conv2d', 'outChannels', outChannels);
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = options.groups ?? 1;
    if (inChannels % groups !== 0)
      throw new ArgumentError(`Conv2d: inChannels (${inChannels}) must be divisible by groups (${groups})`);
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / groups, kh, kw]));
    this.bias = options.bias === false ? null : this.registerParameter('bias', empty([outChannels]));
    defaultInit(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.options);
  }
}

/** Batch normalisation over the channel dimension of [N, C] or [N, C, H, W]. */
export class BatchNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;
  readonly eps: number;
  readonly momentum: number;

  constructor(
    readonly numFeatures: number,
    options: { eps?: number; momentum?: number; affine?: boolean; trackRunningStats?: boolean } = {},
  ) {
    super();
    positiveInt(this.constructor.name, 'numFeatures', numFeatures);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    const affine = options.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures])) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures])) : null;
    const track = options.trackRunningStats ?? true;
    this.runningMean = track ? this.registerBuffer('running_mean', zeros([numFeatures])) : null;
    this.runningVar = track ? this.registerBuffer('running_var', ones([numFeatures])) : null;
    this.numBatchesTracked = track ? this.registerBuffer('num_batches_tracked', scalar(0, { dtype: 'int64' })) : null;
  }

  forward(x: Tensor): Tensor {
    const useBatchStats = this.isTraining || this.runningMean === null;
    if (this.isTraining && this.numBatchesTracked !== null) noGrad(() => this.numBatchesTracked!.add_(1));
    return F.batchNorm(x, this.runningMean, this.runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStats,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

export class BatchNorm1d extends BatchNorm {}
export class BatchNorm2d extends BatchNorm {}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: F.Pair,
    readonly options: F.PoolOptions = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.options);
  }
}

export class AvgPool2d extends Module {
  constructor(
    readonly kernelSize: F.Pair,
    readonly options: Omit<F.PoolOptions, 'dilation'> = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.options);
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: F.Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ArgumentError(`Dropout: p must be in [0, 1]; got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return this.isTraining && this.p > 0 ? F.dropout(x, this.p, true) : x;
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Runs modules in order; their parameters are named '0.weight', '1.weight', ... as in PyTorch. */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
  }

  /** Runs the layers in order; an error names the layer (index and class) and the shape it was given. */
  forward(x: Tensor): Tensor {
    let out = x;
    for (const [i, layer] of this.layers.entries()) {
      try {
        out = layer.forward(out);
      } catch (error) {
        if (error instanceof Error)
          prefixMessage(error, `Sequential layer ${i} (${layer.constructor.name}) ${inputOf(out)}: `);
        throw error;
      }
    }
    return out;
  }
}

/** Puts `prefix` before an error's message, and in its stack if that was already formatted. */
function prefixMessage(error: Error, prefix: string): void {
  const old = error.message;
  error.message = prefix + old;
  if (typeof error.stack === 'string' && !error.stack.includes(error.message))
    error.stack = error.stack.replace(old, error.message);
}

/** "given [3, 6400]", or what is known when the input cannot be read. */
function inputOf(x: Tensor): string {
  try {
    return `given [${x.shape.join(', ')}]`;
  } catch {
    return 'given a disposed tensor';
  }
}
