import { describe, expect, it } from 'vitest';
import { manualSeed, randn, tidy, type Tensor } from '../../src/engine/index.js';
import { Linear, Sequential, ReLU } from '../../src/nn/layers.js';
import * as F from '../../src/nn/functional.js';
import { SGD } from '../../src/optim/sgd.js';
import { Adam, AdamW } from '../../src/optim/adam.js';
import { LambdaLR, exponentialLR, stepLR, warmupCosine } from '../../src/optim/lr-scheduler.js';
import type { Optimizer } from '../../src/optim/optimizer.js';
import { runTorch } from '../helpers/python.js';
import { needs, TORCH_PYTHON } from '../helpers/prerequisites.js';
import { expectClose } from '../helpers/assert.js';

function setup(): { net: Sequential; x: Tensor; y: Tensor; initial: Record<string, Tensor> } {
  manualSeed(21);
  const net = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
  const initial = Object.fromEntries([...net.stateDict()].map(([k, v]) => [`state.${k}`, v.clone()]));
  return { net, x: randn([16, 4]), y: randn([16, 2]), initial };
}

function train(
  net: Sequential,
  optimizer: Optimizer<{ lr: number }>,
  x: Tensor,
  y: Tensor,
  steps: number,
  scheduler?: LambdaLR,
): void {
  for (let i = 0; i < steps; i++) {
    tidy(() => {
      optimizer.zeroGrad();
      F.mseLoss(net.forward(x), y).backward();
      optimizer.step();
    });
    scheduler?.step();
  }
}

const pythonTraining = (makeOptimizer: string, steps: number, scheduler = 'None') => `
net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
net.load_state_dict({k[6:]: v for k, v in inputs.items() if k.startswith('state.')})
opt = ${makeOptimizer}
sched = ${scheduler}
for _ in range(${steps}):
    opt.zero_grad()
    F.mse_loss(net(inputs['x']), inputs['y']).backward()
    opt.step()
    if sched is not None:
        sched.step()
for k, v in net.state_dict().items():
    outputs[k] = v
`;

function expectSameParameters(net: Sequential, torch: Record<string, Tensor>): void {
  for (const [name, p] of net.stateDict()) expectClose(p, torch[name]!, { atol: 1e-5, rtol: 1e-4 });
}

needs(TORCH_PYTHON).describe('optimisers against torch.optim', () => {
  it('SGD with momentum, Nesterov, weight decay and per-group settings', () => {
    const { net, x, y, initial } = setup();
    const [first, , last] = net.layers as [Linear, ReLU, Linear];
    const opt = new SGD(
      [
        { params: first, lr: 0.05, momentum: 0.9, nesterov: true },
        { params: last, weightDecay: 0.01, momentum: 0.5, dampening: 0.1 },
      ],
      { lr: 0.1 },
    );
    train(net, opt, x, y, 8);
    const torch = runTorch(
      pythonTraining(
        `torch.optim.SGD([{'params': net[0].parameters(), 'lr': 0.05, 'momentum': 0.9, 'nesterov': True},
                          {'params': net[2].parameters(), 'weight_decay': 0.01, 'momentum': 0.5, 'dampening': 0.1}], lr=0.1)`,
        8,
      ),
      { x, y, ...initial },
    );
    expectSameParameters(net, torch);
  });

  it('Adam with weight decay and a step schedule', () => {
    const { net, x, y, initial } = setup();
    const opt = new Adam(net, { lr: 0.01, weightDecay: 0.001, betas: [0.8, 0.99] });
    train(net, opt, x, y, 10, stepLR(opt, 3, 0.5));
    const torch = runTorch(
      pythonTraining(
        'torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=0.001, betas=(0.8, 0.99))',
        10,
        'torch.optim.lr_scheduler.StepLR(opt, 3, 0.5)',
      ),
      { x, y, ...initial },
    );
    expectSameParameters(net, torch);
  });

  it('AdamW (decoupled weight decay)', () => {
    const { net, x, y, initial } = setup();
    const opt = new AdamW(net, { lr: 0.02, weightDecay: 0.1 });
    train(net, opt, x, y, 10);
    const torch = runTorch(pythonTraining('torch.optim.AdamW(net.parameters(), lr=0.02, weight_decay=0.1)', 10), {
      x,
      y,
      ...initial,
    });
    expectSameParameters(net, torch);
  });
});

describe('Optimizer#stateDict()', () => {
  for (const make of [
    (n: Sequential) => new SGD(n, { lr: 0.05, momentum: 0.9 }),
    (n: Sequential) => new Adam(n, { lr: 0.01 }),
  ]) {
    it(`resumes ${make.name === '' ? 'the optimiser' : make.name} exactly`, () => {
      const a = setup();
      const optA = make(a.net);
      train(a.net, optA, a.x, a.y, 6);

      const b = setup();
      const optB = make(b.net);
      train(b.net, optB, b.x, b.y, 3);
      const saved = optB.stateDict();
      const weights = new Map([...b.net.stateDict()].map(([k, v]) => [k, v.clone()]));
      const c = setup();
      c.net.loadStateDict(weights);
      const optC = make(c.net);
      optC.loadStateDict({
        tensors: new Map([...saved.tensors].map(([k, v]) => [k, v.clone()])),
        meta: JSON.parse(JSON.stringify(saved.meta)),
      });
      train(c.net, optC, c.x, c.y, 3);
      for (const [name, p] of a.net.stateDict()) expect(c.net.stateDict().get(name)!.toArray()).toEqual(p.toArray());
    });
  }

  it('rejects invalid hyper-parameters like PyTorch', () => {
    const { net } = setup();
    expect(() => new SGD(net, { lr: -1 })).toThrow('Invalid learning rate: -1 (must be >= 0)');
    expect(() => new SGD(net, { lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum requires/);
    expect(() => new Adam(net, { betas: [1.5, 0.9] })).toThrow(/Invalid beta parameter at index 0/);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/empty parameter list/);
  });
});

describe('learning-rate schedules', () => {
  it('follow their formulas', () => {
    const { net } = setup();
    const opt = new SGD(net, { lr: 1 });
    const exp = exponentialLR(opt, 0.99);
    exp.step();
    exp.step();
    expect(opt.paramGroups[0]!.lr).toBeCloseTo(0.99 ** 2, 12);
    const cosine = warmupCosine(opt, { warmupSteps: 2, totalSteps: 12, minFactor: 0.1 });
    expect(cosine.currentLr()[0]).toBeCloseTo(0.5, 12);
    cosine.setStep(7);
    expect(cosine.currentLr()[0]).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.5)), 12);
    cosine.setStep(12);
    expect(cosine.currentLr()[0]).toBeCloseTo(0.1, 12);
  });
});
