// Convolutional feature extractors for embedding networks: the few-shot literature's conv-4
// (Vinyals et al. 2016; Snell et al. 2017) and a ResNet-12-style residual variant.
import type { Tensor } from '../engine/tensor.js';
import { BatchNorm2d, Conv2d, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import * as F from '../nn/functional.js';

/** conv3x3 -> batch norm -> ReLU -> (2x2 max-pool), the conv-4 block. */
export function convBlock(inChannels: number, outChannels: number, pool: boolean): Sequential {
  const layers: Module[] = [new Conv2d(inChannels, outChannels, 3, { padding: 1 }), new BatchNorm2d(outChannels), new ReLU()];
  if (pool) layers.push(new MaxPool2d(2));
  return new Sequential(...layers);
}

/** Stacked conv blocks; `poolLast: false` keeps the last block's spatial map (a larger embedding). */
export class ConvBackbone extends Module {
  readonly blocks: Sequential;

  constructor(readonly channels: readonly number[], options: { inChannels?: number; poolLast?: boolean } = {}) {
    super();
    const blocks: Module[] = [];
    let previous = options.inChannels ?? 1;
    channels.forEach((width, i) => {
      blocks.push(convBlock(previous, width, i < channels.length - 1 || (options.poolLast ?? true)));
      previous = width;
    });
    this.blocks = this.registerModule('blocks', new Sequential(...blocks));
  }

  forward(x: Tensor): Tensor {
    return this.blocks.forward(x);
  }

  /** The output, and the map after the first `tapBlock` blocks (for a pair comparator). */
  /**
   * The output, and the map of block `tapBlock` (1-based) for a pair comparator: after its pooling,
   * or with `beforePool` before it (the block's full-resolution map).
   */
  forwardWithTap(x: Tensor, tapBlock: number, beforePool = false): { out: Tensor; tap: Tensor } {
    let out = x;
    let tap: Tensor | null = null;
    this.blocks.layers.forEach((block, i) => {
      const layers = (block as Sequential).layers;
      if (i + 1 === tapBlock && beforePool && layers.at(-1) instanceof MaxPool2d) {
        for (const layer of layers.slice(0, -1)) out = layer.forward(out);
        tap = out;
        out = layers.at(-1)!.forward(out);
      } else {
        out = block.forward(out);
        if (i + 1 === tapBlock) tap = out;
      }
    });
    return { out, tap: tap ?? out };
  }
}

/** Three conv3x3+BN layers with a 1x1 projection shortcut, then ReLU and 2x2 max-pool (ResNet-12 block). */
export class ResidualBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly shortcut: Conv2d;
  readonly shortcutBn: BatchNorm2d;

  constructor(inChannels: number, outChannels: number, readonly pool = true) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, outChannels, 3, { padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(outChannels));
    this.conv2 = this.registerModule('conv2', new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(outChannels));
    this.conv3 = this.registerModule('conv3', new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(outChannels));
    this.shortcut = this.registerModule('shortcut', new Conv2d(inChannels, outChannels, 1, { bias: false }));
    this.shortcutBn = this.registerModule('shortcut_bn', new BatchNorm2d(outChannels));
  }

  forward(x: Tensor): Tensor {
    let h = F.leakyRelu(this.bn1.forward(this.conv1.forward(x)), 0.1);
    h = F.leakyRelu(this.bn2.forward(this.conv2.forward(h)), 0.1);
    h = this.bn3.forward(this.conv3.forward(h));
    const out = F.leakyRelu(h.add(this.shortcutBn.forward(this.shortcut.forward(x))), 0.1);
    return this.pool ? F.maxPool2d(out, 2) : out;
  }
}

export class ResNetBackbone extends Module {
  readonly blocks: Sequential;

  constructor(readonly channels: readonly number[], options: { inChannels?: number; poolLast?: boolean } = {}) {
    super();
    const blocks: Module[] = [];
    let previous = options.inChannels ?? 1;
    channels.forEach((width, i) => {
      blocks.push(new ResidualBlock(previous, width, i < channels.length - 1 || (options.poolLast ?? true)));
      previous = width;
    });
    this.blocks = this.registerModule('blocks', new Sequential(...blocks));
  }

  forward(x: Tensor): Tensor {
    return this.blocks.forward(x);
  }

  /** The output, and the map after the first `tapBlock` blocks (for a pair comparator). */
  /** The output, and the map after block `tapBlock` (1-based; residual blocks pool inside, so always after it). */
  forwardWithTap(x: Tensor, tapBlock: number): { out: Tensor; tap: Tensor } {
    let out = x;
    let tap: Tensor | null = null;
    this.blocks.layers.forEach((block, i) => {
      out = block.forward(out);
      if (i + 1 === tapBlock) tap = out;
    });
    return { out, tap: tap ?? out };
  }
}
