import { describe, expect, it } from 'vitest';
import {
  autocast,
  callAsync,
  manualSeed,
  memoryStats,
  randn,
  tidy,
  zeros,
  keep,
  disposeAll,
  type Tensor,
} from '../../src/engine/index.js';
import { Linear, ReLU, Sequential } from '../../src/nn/layers.js';
import * as F from '../../src/nn/functional.js';
import { SGD } from '../../src/optim/sgd.js';
import { Adam, AdamW } from '../../src/optim/adam.js';
import { collectGarbage } from '../helpers/gc.js';

const rssMb = () => process.memoryUsage().rss / 2 ** 20;

describe('tidy()', () => {
  it('disposes intermediates and keeps what the function returns', () => {
    let inner: Tensor | undefined;
    const kept = tidy(() => {
      inner = zeros([4]).add(1);
      return { value: inner.mul(2), list: [zeros([1])] };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept.value.toArray()).toEqual([2, 2, 2, 2]);
    expect(kept.list[0]!.isDisposed).toBe(false);
    disposeAll(kept);
    expect(kept.value.isDisposed).toBe(true);
  });

  it('moves returned tensors to the enclosing scope and respects keep()', () => {
    let escaped: Tensor | undefined;
    let pinned: Tensor | undefined;
    tidy(() => {
      escaped = tidy(() => zeros([2]).add(3));
      pinned = keep(zeros([2]));
      expect(escaped.isDisposed).toBe(false);
    });
    expect(escaped!.isDisposed).toBe(true);
    expect(pinned!.isDisposed).toBe(false);
  });

  it('disposes everything when the function throws', () => {
    let inner: Tensor | undefined;
    expect(() =>
      tidy(() => {
        inner = zeros([2]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(inner!.isDisposed).toBe(true);
  });
});

describe('native memory', () => {
  it('stays flat over 10,000 training steps', () => {
    manualSeed(0);
    const net = new Sequential(new Linear(32, 64), new ReLU(), new Linear(64, 10));
    const opt = new SGD(net, { lr: 0.01, momentum: 0.9 });
    const x = randn([16, 32]);
    const y = randn([16, 10]);
    const step = () =>
      tidy(() => {
        opt.zeroGrad();
        const loss = F.mseLoss(net.forward(x), y);
        loss.backward();
        opt.step();
        return loss.item();
      });
    for (let i = 0; i < 1000; i++) step();
    collectGarbage();
    const before = rssMb();
    for (let i = 0; i < 10_000; i++) step();
    collectGarbage();
    const growth = rssMb() - before;
    expect(growth).toBeLessThan(25);
  });

  it('is reclaimed by garbage collection when tensors are never disposed', () => {
    const before = rssMb();
    // 1,500 x 4 MB = 6 GB if nothing were freed; V8 must feel the external memory and collect.
    for (let i = 0; i < 1500; i++) zeros([1024, 1024]).add(1);
    expect(rssMb() - before).toBeLessThan(3000);
  });
});

describe('callAsync()', () => {
  it('runs an op on the thread pool while the event loop keeps turning', async () => {
    const a = randn([700, 700]);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const results = await Promise.all(Array.from({ length: 4 }, () => callAsync('matmul', a.handle, a.handle)));
    clearInterval(timer);
    expect(results[0]!.shape).toEqual([700, 700]);
    expect(results[0]!.sub(a.matmul(a)).abs().max().item()).toBeLessThan(1e-3);
    expect(ticks).toBeGreaterThan(0);
    await expect(callAsync('matmul', a.handle, zeros([3, 3]).handle)).rejects.toThrow(
      /matmul: mat1 and mat2 shapes cannot be multiplied/,
    );
  });
});

// Live handles are counted natively (not yet garbage-collected, and of those, not disposed), so
// these tests see a leaked handle at once, without waiting for a garbage collection.
describe('memoryStats()', () => {
  it('counts tensors as they are created and disposed', () => {
    const before = memoryStats();
    const t = zeros([3]);
    expect(memoryStats().tensors).toBe(before.tensors + 1);
    t.dispose();
    expect(memoryStats().tensors).toBe(before.tensors);
    expect(memoryStats().handles).toBeGreaterThanOrEqual(before.handles);
  });

  it('in-place ops create no second handle', () => {
    const t = zeros([4]);
    const mask = zeros([4]).gt(0);
    const other = zeros([4]);
    collectGarbage();
    const before = memoryStats();
    for (let i = 0; i < 50; i++) {
      t.add_(1).sub_(other).mul_(2).div_(2).clamp_(0, 100).relu_().fill_(3).zero_();
      t.uniform_().normal_().copy_(other).maskedFill_(mask, 1);
    }
    // No new handle at all (a garbage collection meanwhile could only lower the counts).
    const after = memoryStats();
    expect(after.tensors).toBeLessThanOrEqual(before.tensors);
    expect(after.handles).toBeLessThanOrEqual(before.handles);
  });

  for (const [name, make] of [
    ['SGD with momentum', (net: Sequential) => new SGD(net, { lr: 0.01, momentum: 0.9 })],
    ['Adam', (net: Sequential) => new Adam(net)],
    ['AdamW', (net: Sequential) => new AdamW(net)],
  ] as const) {
    it(`${name} steps leave no handles behind once its state exists`, () => {
      manualSeed(0);
      const net = new Sequential(new Linear(8, 16), new ReLU(), new Linear(16, 2));
      const opt = make(net);
      const x = randn([4, 8]);
      const y = randn([4, 2]);
      const step = () =>
        tidy(() => {
          opt.zeroGrad();
          F.mseLoss(net.forward(x), y).backward();
          opt.step();
        });
      step(); // creates the optimiser's state (momentum buffers or moments) and the gradients
      collectGarbage(); // what earlier tests left behind must not vanish during the count
      const before = memoryStats();
      for (let i = 0; i < 20; i++) step();
      // Without a collection, a handle handed back and dropped would still hold its tensor here
      // (a collection meanwhile could only lower the count).
      expect(memoryStats().tensors).toBeLessThanOrEqual(before.tensors);
    });
  }
});

describe('callAsync() safety', () => {
  it('refuses ops that change tensors or settings in place', async () => {
    const t = zeros([2]);
    await expect(callAsync('add_', t.handle, 1)).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
    await expect(callAsync('setData', t.handle, zeros([3]).handle)).rejects.toThrow(/runs only synchronously/);
    await expect(callAsync('autocastEnter', 'cpu', 15)).rejects.toMatchObject({ code: 'ERR_ARGUMENT' });
    expect(t.shape).toEqual([2]);
  });

  it('carries the autocast setting of the caller into the worker', async () => {
    const a = randn([8, 8]);
    let pending: Promise<Tensor> | undefined;
    autocast(() => {
      pending = callAsync('mm', a.handle, a.handle);
    });
    const mixed = await pending!;
    expect(mixed.dtype).toBe('bfloat16');
    const plain = await callAsync('mm', a.handle, a.handle);
    expect(plain.dtype).toBe('float32');
  });

  it('returns results without autograd history (inputs are detached)', async () => {
    const w = randn([3, 3]).requiresGrad_(true);
    const out = await callAsync('mm', w.handle, w.handle);
    expect(out.requiresGrad).toBe(false);
  });
});
