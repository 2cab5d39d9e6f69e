import { describe, expect, it } from 'vitest';
import { manualSeed, noGrad, randn, tensor, tidy, ones, type Tensor } from '../../src/engine/index.js';
import { Module } from '../../src/nn/module.js';
import {
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
  AvgPool2d,
  AdaptiveAvgPool2d,
} from '../../src/nn/layers.js';
import * as F from '../../src/nn/functional.js';
import * as init from '../../src/nn/init.js';
import { runTorch } from '../helpers/python.js';
import { needs, TORCH_PYTHON } from '../helpers/prerequisites.js';
import { expectClose } from '../helpers/assert.js';

class TwoLayer extends Module {
  readonly first = this.registerModule('first', new Linear(4, 3));
  readonly second = this.registerModule('second', new Linear(3, 2, { bias: false }));
  readonly scale = this.registerParameter('scale', ones([2]));
  forward(x: Tensor): Tensor {
    return this.second.forward(this.first.forward(x).relu()).mul(this.scale);
  }
}

const pytorchNet = `
net = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                          torch.nn.Flatten(), torch.nn.Linear(16, 3))
state = {k[6:]: v for k, v in inputs.items() if k.startswith('state.')}
net.load_state_dict(state)
`;

function tsNet(): Sequential {
  return new Sequential(
    new Conv2d(2, 4, 3, { padding: 1 }),
    new BatchNorm2d(4),
    new ReLU(),
    new MaxPool2d(2),
    new Flatten(),
    new Linear(16, 3),
  );
}

function withPrefix(state: Map<string, Tensor>, prefix: string): Record<string, Tensor> {
  return Object.fromEntries([...state].map(([k, v]) => [prefix + k, v]));
}

describe('Module', () => {
  it('names parameters by dotted path, as PyTorch does', () => {
    const m = new TwoLayer();
    expect([...m.namedParameters()].map(([n]) => n)).toEqual(['scale', 'first.weight', 'first.bias', 'second.weight']);
    expect(m.numParameters()).toBe(2 + 4 * 3 + 3 + 3 * 2);
    const seq = tsNet();
    expect([...seq.stateDict().keys()]).toEqual([
      '0.weight',
      '0.bias',
      '1.weight',
      '1.bias',
      '5.weight',
      '5.bias',
      '1.running_mean',
      '1.running_var',
      '1.num_batches_tracked',
    ]);
  });

  it('propagates train() and eval() to every submodule', () => {
    const seq = new Sequential(new Dropout(0.5), new Sequential(new Dropout(0.2)));
    seq.eval();
    expect([...seq.namedModules()].every(([, m]) => !m.isTraining)).toBe(true);
    seq.train();
    expect([...seq.namedModules()].every(([, m]) => m.isTraining)).toBe(true);
    const x = ones([1000]);
    expect(seq.forward(x).eq(0).sum().item()).toBeGreaterThan(300);
    seq.eval();
    expect(
      seq
        .forward(x)
        .toArray()
        .every((v) => v === 1),
    ).toBe(true);
  });

  it('moves to float64 in place and keeps parameter identity', () => {
    const m = new TwoLayer();
    const before = m.parameters();
    m.to('float64');
    expect(m.parameters()).toEqual(before);
    expect(before.every((p) => p.dtype === 'float64' && p.requiresGrad)).toBe(true);
    expect(m.forward(randn([2, 4], { dtype: 'float64' })).dtype).toBe('float64');
  });

  it('parameters survive tidy() scopes', () => {
    const m = tidy(() => new TwoLayer());
    expect(m.forward(ones([1, 4])).shape).toEqual([1, 2]);
  });

  it('zeroGrad zeroes gradients in place, or drops them', () => {
    const m = new TwoLayer();
    noGrad(() => m.first.bias!.fill_(1)); // every ReLU active, so every gradient is non-zero
    m.forward(ones([1, 4]))
      .sum()
      .backward();
    const gradSum = () => m.parameters().reduce((s, p) => s + p.grad!.abs().sum().item(), 0);
    expect(gradSum()).toBeGreaterThan(0);
    m.zeroGrad();
    expect(gradSum()).toBe(0);
    m.zeroGrad(true);
    expect(m.first.weight.grad).toBeNull();
  });
});

describe('init', () => {
  it('matches the documented distributions', () => {
    manualSeed(0);
    const w = init.kaimingNormal_(randn([400, 100]));
    expect(Math.abs(w.std().item() - Math.sqrt(2 / 100))).toBeLessThan(0.005);
    const u = init.xavierUniform_(randn([200, 300]));
    const bound = Math.sqrt(6 / 500);
    expect(u.max().item()).toBeLessThanOrEqual(bound);
    expect(u.min().item()).toBeGreaterThanOrEqual(-bound);
    expect(init.constant_(randn([3]), 0.5).toArray()).toEqual([0.5, 0.5, 0.5]);
  });
});

describe('layers', () => {
  it('pool and flatten with the expected shapes', () => {
    const x = randn([2, 3, 8, 8]);
    expect(new AvgPool2d(2).forward(x).shape).toEqual([2, 3, 4, 4]);
    expect(new AdaptiveAvgPool2d(1).forward(x).shape).toEqual([2, 3, 1, 1]);
    expect(new Flatten().forward(x).shape).toEqual([2, 192]);
  });

  it('explains a channel mismatch in conv2d', () => {
    expect(() => new Conv2d(3, 8, 3).forward(randn([1, 1, 8, 8]))).toThrow(
      'conv2d(): input has 1 channels but the weight [8, 3, 3, 3] expects 3',
    );
    expect(() => new Linear(4, 2).forward(randn([3, 5]))).toThrow(/input \[3, 5\] has 5 features/);
    expect(() => F.conv2d(randn([1, 8, 8]), randn([1, 1, 3, 3]))).toThrow(/input must be \[N, C, H, W\]/);
  });
});

needs(TORCH_PYTHON).describe('layers against PyTorch', () => {
  it('forward, backward and batch-norm statistics match torch.nn', () => {
    manualSeed(11);
    const net = tsNet();
    const x = randn([3, 2, 4, 4]);
    const initial = new Map([...net.stateDict()].map(([k, v]) => [k, v.clone()]));
    const out = net.forward(x);
    out.square().sum().backward();
    const torch = runTorch(
      `${pytorchNet}
out = net(inputs['x'])
out.pow(2).sum().backward()
outputs['out'] = out
outputs['grad.conv'] = net[0].weight.grad
outputs['grad.linear'] = net[5].weight.grad
outputs['running_var'] = net[1].running_var
net.eval()
outputs['eval_out'] = net(inputs['x'])
`,
      { x, ...withPrefix(initial, 'state.') },
    );
    expectClose(out, torch.out!, { atol: 1e-5 });
    expectClose((net.layers[0] as Conv2d).weight.grad!, torch['grad.conv']!, { atol: 1e-4 });
    expectClose((net.layers[5] as Linear).weight.grad!, torch['grad.linear']!, { atol: 1e-4 });
    expectClose((net.layers[1] as BatchNorm2d).runningVar!, torch.running_var!);
    net.eval();
    expectClose(net.forward(x), torch.eval_out!, { atol: 1e-5 });
  });

  it('functional ops match torch.nn.functional', () => {
    manualSeed(12);
    const x = randn([2, 1, 6, 6]);
    const theta = randn([2, 2, 3])
      .mul(0.2)
      .add(
        tensor(
          [
            [1, 0, 0],
            [0, 1, 0],
          ],
          { dtype: 'float32' },
        ),
      );
    const a = randn([5, 4]);
    const b = randn([6, 4]);
    const torch = runTorch(
      `
x, theta, a, b = inputs['x'], inputs['theta'], inputs['a'], inputs['b']
outputs['grid'] = F.grid_sample(x, F.affine_grid(theta, [2, 1, 6, 6], align_corners=False), align_corners=False)
outputs['aa'] = F.interpolate(x, size=[3, 3], mode='bilinear', antialias=True, align_corners=False)
outputs['cdist'] = torch.cdist(a, b)
outputs['norm'] = F.normalize(a, dim=1)
outputs['ce'] = F.cross_entropy(a, torch.tensor([0, 3, 1, 2, 0]))
outputs['bce'] = F.binary_cross_entropy_with_logits(a, (a > 0).float())
`,
      { x, theta, a, b },
    );
    expectClose(F.gridSample(x, F.affineGrid(theta, [2, 1, 6, 6])), torch.grid!);
    expectClose(F.interpolate(x, { size: 3, mode: 'bilinear', antialias: true }), torch.aa!);
    expectClose(a.cdist(b), torch.cdist!);
    expectClose(F.normalize(a), torch.norm!);
    expectClose(F.crossEntropy(a, tensor([0, 3, 1, 2, 0])), torch.ce!);
    expectClose(F.binaryCrossEntropyWithLogits(a, a.gt(0).float()), torch.bce!);
  });
});
