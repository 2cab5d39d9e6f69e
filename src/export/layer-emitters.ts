// How each nn layer (and each model part with its own forward) becomes ONNX nodes: one emitter per
// class, in one table, so every network the project builds is exported by composing the same
// entries. Emitters describe eval mode (batch norm on running statistics, dropout off).
import { TwinshotError } from '../errors.js';
import type { Pair, PoolOptions } from '../nn/functional.js';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm,
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  Identity,
  LeakyReLU,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
  Sigmoid,
  Tanh,
} from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { ConvBackbone, ResidualBlock, ResNetBackbone } from '../models/backbones.js';
import { KochEncoder } from '../models/koch2015.js';
import { attr, type OnnxGraph } from './onnx-graph.js';

/**
 * Adds the nodes of `module` applied to the value `input`; returns the output value's name.
 * `path` is the module's dotted name in the exported network, so its weights keep their
 * safetensors keys as initializer names.
 */
export type LayerEmitter<M extends Module> = (g: OnnxGraph, module: M, input: string, path: string) => string;

type AnyModuleClass = abstract new (...args: never[]) => Module;

/** `parent.name`, or `name` at the root. */
export function childPath(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

function twice(value: Pair): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

/** ONNX pads list begin values then end values: [top, left, bottom, right]. */
function pads(padding: Pair): number[] {
  const [h, w] = twice(padding);
  return [h, w, h, w];
}

const emitConv2d: LayerEmitter<Conv2d> = (g, conv, x, path) => {
  const inputs = [x, g.weight(childPath(path, 'weight'), conv.weight)];
  if (conv.bias !== null) inputs.push(g.weight(childPath(path, 'bias'), conv.bias));
  return g.node('Conv', inputs, {
    kernel_shape: attr.ints(twice(conv.kernelSize)),
    strides: attr.ints(twice(conv.options.stride ?? 1)),
    pads: attr.ints(pads(conv.options.padding ?? 0)),
    dilations: attr.ints(twice(conv.options.dilation ?? 1)),
    group: attr.int(conv.options.groups ?? 1),
  });
};

// BatchNormalization in inference mode, on the running statistics; onnxruntime folds it into the
// preceding convolution when it loads the graph, so the file keeps the trained values as they are.
const emitBatchNorm: LayerEmitter<BatchNorm> = (g, bn, x, path) => {
  if (bn.runningMean === null || bn.runningVar === null)
    throw unsupported(bn, path, 'batch statistics at inference (trackRunningStats: false)');
  const c = bn.numFeatures;
  const scale = bn.weight
    ? g.weight(childPath(path, 'weight'), bn.weight)
    : g.floats('bn_ones', [c], new Float32Array(c).fill(1));
  const shift = bn.bias ? g.weight(childPath(path, 'bias'), bn.bias) : g.floats('bn_zeros', [c], new Float32Array(c));
  return g.node(
    'BatchNormalization',
    [
      x,
      scale,
      shift,
      g.weight(childPath(path, 'running_mean'), bn.runningMean),
      g.weight(childPath(path, 'running_var'), bn.runningVar),
    ],
    { epsilon: attr.float(bn.eps) },
  );
};

/** F.maxPool2d's defaults: the stride is the kernel, no padding, floor mode. */
function maxPool(g: OnnxGraph, x: string, kernelSize: Pair, options: PoolOptions = {}): string {
  const kernel = twice(kernelSize);
  return g.node('MaxPool', [x], {
    kernel_shape: attr.ints(kernel),
    strides: attr.ints(twice(options.stride ?? kernel)),
    pads: attr.ints(pads(options.padding ?? 0)),
    dilations: attr.ints(twice(options.dilation ?? 1)),
    ceil_mode: attr.int(options.ceilMode ? 1 : 0),
  });
}

const emitMaxPool2d: LayerEmitter<MaxPool2d> = (g, pool, x) => maxPool(g, x, pool.kernelSize, pool.options);

const emitAvgPool2d: LayerEmitter<AvgPool2d> = (g, pool, x) => {
  const kernel = twice(pool.kernelSize);
  const options = pool.options as AvgPool2d['options'] & { countIncludePad?: boolean };
  return g.node('AveragePool', [x], {
    kernel_shape: attr.ints(kernel),
    strides: attr.ints(twice(options.stride ?? kernel)),
    pads: attr.ints(pads(options.padding ?? 0)),
    ceil_mode: attr.int(options.ceilMode ? 1 : 0),
    count_include_pad: attr.int((options.countIncludePad ?? true) ? 1 : 0),
  });
};

const emitAdaptiveAvgPool2d: LayerEmitter<AdaptiveAvgPool2d> = (g, pool, x, path) => {
  const [h, w] = twice(pool.outputSize);
  if (h !== 1 || w !== 1) throw unsupported(pool, path, `output size ${h}x${w} (only 1x1, global pooling)`);
  return g.node('GlobalAveragePool', [x]);
};

const emitFlatten: LayerEmitter<Flatten> = (g, flatten, x, path) => {
  if (flatten.startDim !== 1 || flatten.endDim !== -1)
    throw unsupported(flatten, path, `dimensions ${flatten.startDim}..${flatten.endDim} (only 1..-1)`);
  return g.node('Flatten', [x], { axis: attr.int(1) });
};

// Gemm wants a matrix: every Linear of twinshot's networks follows a Flatten or another Linear.
const emitLinear: LayerEmitter<Linear> = (g, linear, x, path) => {
  const inputs = [x, g.weight(childPath(path, 'weight'), linear.weight)];
  if (linear.bias !== null) inputs.push(g.weight(childPath(path, 'bias'), linear.bias));
  return g.node('Gemm', inputs, { transB: attr.int(1) });
};

const passThrough: LayerEmitter<Module> = (_g, _module, x) => x;

const emitSequential: LayerEmitter<Sequential> = (g, sequential, x, path) =>
  sequential.layers.reduce((h, layer, i) => emitLayer(g, layer, h, childPath(path, String(i))), x);

const emitBackbone: LayerEmitter<ConvBackbone | ResNetBackbone> = (g, backbone, x, path) =>
  emitLayer(g, backbone.blocks, x, childPath(path, 'blocks'));

// ResidualBlock.forward: three conv-BN stages with leaky ReLU (slope 0.1), a 1x1 projection
// shortcut added before the last activation, then an optional 2x2 max-pool.
const emitResidualBlock: LayerEmitter<ResidualBlock> = (g, block, x, path) => {
  const convBn = (conv: [Conv2d, string], bn: [BatchNorm2d, string], h: string): string =>
    emitLayer(g, bn[0], emitLayer(g, conv[0], h, childPath(path, conv[1])), childPath(path, bn[1]));
  const leaky = (h: string): string => g.node('LeakyRelu', [h], { alpha: attr.float(0.1) });
  let h = leaky(convBn([block.conv1, 'conv1'], [block.bn1, 'bn1'], x));
  h = leaky(convBn([block.conv2, 'conv2'], [block.bn2, 'bn2'], h));
  h = convBn([block.conv3, 'conv3'], [block.bn3, 'bn3'], h);
  const shortcut = convBn([block.shortcut, 'shortcut'], [block.shortcutBn, 'shortcut_bn'], x);
  const out = leaky(g.node('Add', [h, shortcut]));
  return block.pool ? maxPool(g, out, 2) : out;
};

// KochEncoder.forward: conv-ReLU-pool three times, conv-ReLU, flatten, fully connected, sigmoid.
const emitKochEncoder: LayerEmitter<KochEncoder> = (g, encoder, x, path) => {
  const convRelu = (name: 'conv1' | 'conv2' | 'conv3' | 'conv4', h: string): string =>
    g.node('Relu', [emitLayer(g, encoder[name], h, childPath(path, name))]);
  const pool = (h: string): string => maxPool(g, h, 2);
  let h = pool(convRelu('conv1', x));
  h = pool(convRelu('conv2', h));
  h = pool(convRelu('conv3', h));
  h = g.node('Flatten', [convRelu('conv4', h)], { axis: attr.int(1) });
  return g.node('Sigmoid', [emitLayer(g, encoder.fc, h, childPath(path, 'fc'))]);
};

function activation(opType: string): LayerEmitter<Module> {
  return (g, _module, x) => g.node(opType, [x]);
}

/**
 * The emitter of every module class the exporter knows, matched on the exact class (a subclass
 * may change forward, so it needs its own entry). A new layer or model part adds one line here.
 */
const LAYER_EMITTERS = new Map<AnyModuleClass, LayerEmitter<never>>([
  [Conv2d, emitConv2d],
  [BatchNorm, emitBatchNorm],
  [BatchNorm1d, emitBatchNorm],
  [BatchNorm2d, emitBatchNorm],
  [MaxPool2d, emitMaxPool2d],
  [AvgPool2d, emitAvgPool2d],
  [AdaptiveAvgPool2d, emitAdaptiveAvgPool2d],
  [Flatten, emitFlatten],
  [Linear, emitLinear],
  [ReLU, activation('Relu')],
  [Sigmoid, activation('Sigmoid')],
  [Tanh, activation('Tanh')],
  [LeakyReLU, (g, relu: LeakyReLU, x) => g.node('LeakyRelu', [x], { alpha: attr.float(relu.negativeSlope) })],
  [Identity, passThrough],
  [Dropout, passThrough],
  [Sequential, emitSequential],
  [ConvBackbone, emitBackbone],
  [ResNetBackbone, emitBackbone],
  [ResidualBlock, emitResidualBlock],
  [KochEncoder, emitKochEncoder],
]);

/**
 * Emits `module` applied to `input` through its table entry.
 * @throws TwinshotError ERR_MODEL when the class has no emitter
 */
export function emitLayer(g: OnnxGraph, module: Module, input: string, path: string): string {
  const emit = LAYER_EMITTERS.get(module.constructor as AnyModuleClass) as LayerEmitter<Module> | undefined;
  if (emit === undefined) throw unsupported(module, path, 'this layer');
  return emit(g, module, input, path);
}

function unsupported(module: Module, path: string, what: string): TwinshotError {
  const where = path === '' ? 'the network' : `'${path}'`;
  return new TwinshotError(
    'ERR_MODEL',
    `ONNX export: ${module.constructor.name} at ${where} cannot be exported (${what}); add an emitter for it in src/export/layer-emitters.ts`,
  );
}
