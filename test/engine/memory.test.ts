import { describe, expect, it } from 'vitest';
import { callAsync, manualSeed, randn, tidy, zeros, keep, disposeAll, type Tensor } from '../../src/engine/index.js';
import { Linear, ReLU, Sequential } from '../../src/nn/layers.js';
import * as F from '../../src/nn/functional.js';
import { SGD } from '../../src/optim/sgd.js';
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
