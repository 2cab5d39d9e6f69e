// Koch, Zemel & Salakhutdinov (2015), "Siamese Neural Networks for One-shot Image Recognition":
// a convolutional encoder to 4096 sigmoid units, twin passes with shared weights, and
// p = sigmoid(sum_j alpha_j |h1_j - h2_j| + b) (section 3.1, figure 4).
import { cat, type Tensor } from '../engine/tensor.js';
import { noGrad } from '../engine/autograd.js';
import { Conv2d, Linear } from '../nn/layers.js';
import * as F from '../nn/functional.js';
import { Module } from '../nn/module.js';
import { TwinModel } from './twin-model.js';
import { ArgumentError } from '../errors.js';

export interface Koch2015Options {
  /** Input side in pixels; the paper uses 105 (Omniglot's native size). */
  inputSize?: number;
  /** Width of the code layer; the paper uses 4096. */
  codeSize?: number;
}

/** The shared encoder: conv 64@10, pool; conv 128@7, pool; conv 128@4, pool; conv 256@4; fc sigmoid. */
export class KochEncoder extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly conv4: Conv2d;
  readonly fc: Linear;

  constructor(options: Koch2015Options = {}) {
    super();
    const size = options.inputSize ?? 105;
    // spatial size after each stage: conv (valid) then 2x2 max-pool
    const s1 = Math.floor((size - 9) / 2);
    const s2 = Math.floor((s1 - 6) / 2);
    const s3 = Math.floor((s2 - 3) / 2);
    const s4 = s3 - 3;
    if (s4 < 1) throw new ArgumentError(`koch2015: inputSize ${size} is too small (needs at least 88 pixels)`);
    this.conv1 = this.registerModule('conv1', new Conv2d(1, 64, 10));
    this.conv2 = this.registerModule('conv2', new Conv2d(64, 128, 7));
    this.conv3 = this.registerModule('conv3', new Conv2d(128, 128, 4));
    this.conv4 = this.registerModule('conv4', new Conv2d(128, 256, 4));
    this.fc = this.registerModule('fc', new Linear(256 * s4 * s4, options.codeSize ?? 4096));
    // Section 3.3: conv weights N(0, 1e-2), biases N(0.5, 1e-2); fully connected weights N(0, 2e-1).
    noGrad(() => {
      for (const conv of [this.conv1, this.conv2, this.conv3, this.conv4]) {
        conv.weight.normal_(0, 1e-2);
        conv.bias!.normal_(0.5, 1e-2);
      }
      this.fc.weight.normal_(0, 2e-1);
      this.fc.bias!.normal_(0.5, 1e-2);
    });
  }

  forward(x: Tensor): Tensor {
    // ReLU in place on each convolution's fresh output: ReLU's backward needs only its result and
    // the convolution's only its input, so the pre-activation is not worth keeping. PyTorch frees
    // it as soon as ReLU has read it; here the enclosing tidy() would hold it to the end of the
    // step (about 220 MB for a batch of 32 pairs, which the heap then has to grow for).
    let h = F.maxPool2d(this.conv1.forward(x).relu_(), 2);
    h = F.maxPool2d(this.conv2.forward(h).relu_(), 2);
    h = F.maxPool2d(this.conv3.forward(h).relu_(), 2);
    h = this.conv4.forward(h).relu_();
    return this.fc.forward(h.flatten(1)).sigmoid();
  }
}

/** Koch et al.'s twin network: shared encoder plus the weighted L1 head. ~38.95 M parameters at 105x105. */
export class Koch2015 extends TwinModel {
  readonly encoder: KochEncoder;
  /** alpha_j and b of the weighted L1 distance (the paper's output layer). */
  readonly head: Linear;

  constructor(options: Koch2015Options = {}) {
    super();
    this.encoder = this.registerModule('encoder', new KochEncoder(options));
    this.head = this.registerModule('head', new Linear(options.codeSize ?? 4096, 1));
    noGrad(() => {
      this.head.weight.normal_(0, 2e-1);
      this.head.bias!.normal_(0.5, 1e-2);
    });
  }

  embed(images: Tensor): Tensor {
    return this.encoder.forward(images);
  }

  pairLogits(a: Tensor, b: Tensor): Tensor {
    return this.head.forward(a.sub(b).abs()).squeeze(1);
  }

  pairDistances(a: Tensor, b: Tensor): Tensor {
    return this.pairLogits(a, b).neg();
  }

  pairLogitMatrix(a: Tensor, b: Tensor): Tensor {
    return this.distanceMatrix(a, b).neg();
  }

  /** -logit of every pair, so lower means more alike; computed in row chunks to bound memory. */
  distanceMatrix(a: Tensor, b: Tensor): Tensor {
    const rows: Tensor[] = [];
    const chunk = Math.max(1, Math.floor(2 ** 24 / Math.max(1, b.shape[0]! * a.shape[1]!)));
    const weight = this.head.weight.squeeze(0);
    for (let start = 0; start < a.shape[0]!; start += chunk) {
      const part = a.narrow(0, start, Math.min(chunk, a.shape[0]! - start));
      const diff = part.unsqueeze(1).sub(b.unsqueeze(0)).abs(); // [c, m, D]
      rows.push(diff.matmul(weight).add(this.head.bias!).neg());
    }
    return rows.length === 1 ? rows[0]! : cat(rows, 0);
  }
}
