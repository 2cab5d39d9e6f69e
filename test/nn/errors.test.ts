// Mistakes a new user makes with nn and optim, and the messages that point at the fix.
import { describe, expect, it } from 'vitest';
import { ones, tensor, zeros, type Tensor } from '../../src/engine/index.js';
import { Conv2d, Flatten, Linear, Module, ReLU, Sequential } from '../../src/nn/index.js';
import * as F from '../../src/nn/functional.js';
import { SGD } from '../../src/optim/index.js';

describe('Sequential#forward()', () => {
  it('names the layer that failed and the shape it was given', () => {
    const net = new Sequential(
      new Conv2d(1, 4, 3, { padding: 1 }),
      new ReLU(),
      new Flatten(),
      new Linear(4 * 28 * 28, 10),
    );
    expect(() => net.forward(zeros([3, 1, 40, 40]))).toThrow(
      expect.objectContaining({
        code: 'ERR_SHAPE',
        message: expect.stringMatching(
          /^Sequential layer 3 \(Linear\) given \[3, 6400\]: linear\(\): input \[3, 6400\]/,
        ),
      }),
    );
    const nested = new Sequential(new Flatten(), new Sequential(new Linear(4, 2), new Linear(3, 1)));
    expect(() => nested.forward(zeros([2, 4]))).toThrow(
      /^Sequential layer 1 \(Sequential\) given \[2, 4\]: Sequential layer 1 \(Linear\) given \[2, 2\]: /,
    );
  });
});

describe('Module#unregisteredFields()', () => {
  class Forgetful extends Module {
    readonly fc = new Linear(2, 3);
    readonly heads = [new Linear(3, 1)];
    readonly scale = ones([1]);
    readonly kept: Linear;
    constructor() {
      super();
      this.kept = this.registerModule('kept', new Linear(3, 3));
    }
    forward(x: Tensor): Tensor {
      return this.kept.forward(this.fc.forward(x));
    }
  }

  it('lists modules and tensors held in fields without registration, and nothing for registered ones', () => {
    expect(new Forgetful().unregisteredFields()).toEqual(['fc (Linear)', 'heads[0] (Linear)', 'scale (Tensor)']);
    expect(new Sequential(new Linear(2, 2), new Sequential(new Linear(2, 2))).unregisteredFields()).toEqual([]);
  });
});

describe('Optimizer', () => {
  it('explains an empty parameter list by the fields that were never registered', () => {
    class Unregistered extends Module {
      readonly fc = new Linear(2, 3);
      forward(x: Tensor): Tensor {
        return this.fc.forward(x);
      }
    }
    expect(() => new SGD(new Unregistered(), { lr: 0.1 })).toThrow(
      /empty parameter list: Unregistered has no registered parameters, but its fields fc \(Linear\) were never registered\. .*registerModule\('fc'/,
    );
    expect(() => new SGD(new ReLU(), { lr: 0.1 })).toThrow(
      /ReLU has no parameters; register its layers with registerModule/,
    );
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/empty parameter list$/);
  });
});

describe('crossEntropy() and nllLoss()', () => {
  it('take int64 class indices, or float probabilities shaped like the logits, and refuse float indices', () => {
    const logits = zeros([3, 4]);
    expect(F.crossEntropy(logits, tensor([0, 1, 2])).item()).toBeCloseTo(Math.log(4), 5);
    expect(F.crossEntropy(logits, ones([3, 4]).div(4)).item()).toBeCloseTo(Math.log(4), 5);
    expect(() => F.crossEntropy(logits, tensor([0, 1, 2], { dtype: 'float32' }))).toThrow(
      expect.objectContaining({
        code: 'ERR_DTYPE',
        message: expect.stringMatching(/^crossEntropy\(\): target must hold int64 class indices .*got float32 \[3\]/),
      }),
    );
    expect(() => F.nllLoss(logits, tensor([0, 1, 2], { dtype: 'int32' }))).toThrow(/nllLoss\(\): .*got int32 \[3\]/);
  });
});
